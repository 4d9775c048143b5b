"""`envoy -c BOOTSTRAP`: the part of Envoy that kind's external load balancer uses.

kind runs its load balancer image with a bootstrap config whose listeners (LDS) and
clusters (CDS) come from two files it later replaces (`mv`) with its own: one TCP proxy
listener on 6443 and a STRICT_DNS cluster of the control planes with TLS health checks
on /healthz. This reads the same files, watches them for replacement, resolves the
endpoints, health-checks them (HTTPS GET /healthz, certificate not verified, as kind's
ACCEPT_UNTRUSTED) at the configured interval, and proxies TCP connections round robin
over the healthy ones (all of them while none is healthy; a failed connect tries the
next). The admin listener answers /ready. Not Envoy: no other filter or option is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import os
import socket
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]


def say(level: str, message: str) -> None:
    stamp = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()) + f".{int(time.time() % 1 * 1000):03d}"
    )
    sys.stdout.write(f"[{stamp}][{os.getpid()}][{level}][main] {message}\n")
    sys.stdout.flush()


def load(path: str) -> list[Obj]:
    try:
        return list((yaml.safe_load(Path(path).read_text()) or {}).get("resources") or [])
    except (OSError, yaml.YAMLError) as exc:
        say("warning", f"{path}: {exc}")
        return []


class Cluster:
    def __init__(self, spec: Obj) -> None:
        self.name = spec["name"]
        endpoints = ((spec.get("load_assignment") or {}).get("endpoints") or [{}])[0].get(
            "lb_endpoints"
        ) or []
        self.hosts = [(e["endpoint"]["address"]["socket_address"]["address"],
                       int(e["endpoint"]["address"]["socket_address"]["port_value"])) for e in endpoints]  # fmt: skip
        check = (spec.get("health_checks") or [{}])[0]
        self.interval = float(str(check.get("interval", "2s")).rstrip("s") or 2)
        self.timeout = float(str(check.get("timeout", "3s")).rstrip("s") or 3)
        self.path = ((check.get("http_health_check") or {}).get("path")) or "/healthz"
        self.checked = bool(spec.get("health_checks"))
        self.healthy: set[tuple[str, int]] = set()
        self.turn = itertools.count()
        self.stopped = threading.Event()

    def check(self, host: tuple[str, int]) -> bool:
        try:
            context = ssl._create_unverified_context()
            conn = http.client.HTTPSConnection(
                host[0], host[1], timeout=self.timeout, context=context
            )
            conn.request("GET", self.path)
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False

    def health_loop(self) -> None:
        while not self.stopped.is_set():
            for host in self.hosts:
                ok = self.check(host)
                if ok != (host in self.healthy):
                    (self.healthy.add if ok else self.healthy.discard)(host)
                    say("info", f"health_check: cluster {self.name} host {host[0]}:{host[1]} "
                                f"{'healthy' if ok else 'unhealthy'}")  # fmt: skip
            self.stopped.wait(self.interval)

    def order(self) -> list[tuple[str, int]]:
        pool = [h for h in self.hosts if h in self.healthy] or list(self.hosts)
        if not pool:
            return []
        start = next(self.turn) % len(pool)
        return pool[start:] + pool[:start] + [h for h in self.hosts if h not in pool]


class Proxy:
    def __init__(self, cds: str, lds: str) -> None:
        self.cds, self.lds = cds, lds
        self.clusters: dict[str, Cluster] = {}
        self.servers: dict[str, asyncio.AbstractServer] = {}

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    async def connection(self, cluster_name: str, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:  # fmt: skip
        cluster = self.clusters.get(cluster_name)
        for host in cluster.order() if cluster else []:
            try:
                up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*host), 2)
            except (TimeoutError, OSError):
                continue
            await asyncio.gather(self.pipe(reader, up_writer), self.pipe(up_reader, writer))
            return
        writer.close()

    async def reload(self) -> None:
        for cluster in self.clusters.values():
            cluster.stopped.set()
        self.clusters = {c["name"]: Cluster(c) for c in load(self.cds)}
        for cluster in self.clusters.values():
            if cluster.checked:
                threading.Thread(target=cluster.health_loop, daemon=True).start()
            else:
                cluster.healthy = set(cluster.hosts)
            say("info", f"cds: add/update cluster '{cluster.name}' with {len(cluster.hosts)} hosts")
        for server in self.servers.values():
            server.close()
        self.servers = {}
        for listener in load(self.lds):
            address = listener["address"]["socket_address"]
            target = ""
            for chain in listener.get("filter_chains") or []:
                for filt in chain.get("filters") or []:
                    target = (filt.get("typed_config") or {}).get("cluster", target)
            host = address.get("address", "0.0.0.0").strip('"')
            server = await asyncio.start_server(
                lambda r, w, t=target: self.connection(t, r, w), host if host != "::" else None,
                int(address["port_value"]), reuse_address=True)  # fmt: skip
            self.servers[listener["name"]] = server
            say("info", f"lds: add/update listener '{listener['name']}'")

    async def watch(self) -> None:
        def stamp() -> tuple[Any, ...]:
            out: list[Any] = []
            for path in (self.cds, self.lds):
                try:
                    st = os.stat(path)
                    out.append((st.st_ino, st.st_mtime_ns, st.st_size))
                except OSError:
                    out.append(None)
            return tuple(out)

        seen = None
        while True:
            now = stamp()
            if now != seen:
                seen = now
                await self.reload()
            await asyncio.sleep(0.2)


async def admin(port: int) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        body = b"LIVE\n"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    await asyncio.start_server(answer, "0.0.0.0", port, reuse_address=True)


async def run(bootstrap: Obj) -> None:
    dynamic = bootstrap.get("dynamic_resources") or {}
    cds = dynamic["cds_config"]["path_config_source"]["path"]
    lds = dynamic["lds_config"]["path_config_source"]["path"]
    port = int(
        ((bootstrap.get("admin") or {}).get("address") or {})
        .get("socket_address", {})
        .get("port_value", 10000)
    )
    await admin(port)
    say("info", f"admin address: 0.0.0.0:{port}")
    say("info", "starting main dispatch loop")
    await Proxy(cds, lds).watch()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--version" in argv:
        print("envoy  version: kindnode-stand-in/1.36.2/Clean/RELEASE/BoringSSL")
        return
    path = argv[argv.index("-c") + 1] if "-c" in argv else "/etc/envoy/envoy.yaml"
    bootstrap = yaml.safe_load(Path(path).read_text()) or {}
    say(
        "info",
        f"initializing epoch 0 (base id=0, hot restart version=disabled) node={(bootstrap.get('node') or {}).get('id')}",
    )
    socket.setdefaulttimeout(None)
    asyncio.run(run(bootstrap))


if __name__ == "__main__":
    main()
