"""The network between one spoke's agent and the hub, on the local runtime: a TCP proxy
the agent dials instead of the hub, so that faults can cut or slow that one link while
everything else (the hub's API for users, the other spokes) keeps working.

Modes, read from a control file (JSON, replaced atomically) on SIGHUP and every second:
- `pass`: bytes forwarded as they come;
- `partition`: packets dropped, as on a real cut: nothing is forwarded either way, new
  connections are accepted but never reach the hub, nobody gets a reset or an EOF, so
  requests hang until the agent's own timeouts fire. When the partition heals, what was
  held moves on, late, as TCP would deliver it after retransmissions;
- `slow`: every chunk delayed by `latency_ms` each way (order kept), and a share
  `loss_percent` of chunks (and of connection attempts) lost once, which on TCP means
  delivered after a retransmission timeout (200 ms, doubling while losses follow).

The hub's address is read from its port file on each new connection, so a hub restarted
on its port is reached again with no change here. A hub that is down is a reset, as a
closed port is. What the proxy applied is written to a status file (mode, since when,
connections, how many wait at the partition), which is how the runtime knows a change
took effect and how tests and `fault list` observe it.

Standard library only, and run as a script (not `-m`), so it starts in milliseconds and
holds ~10 MB, not the fleet tooling's imports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import struct
import time
from pathlib import Path

CHUNK = 65536
RTO = 0.2  # Linux's minimum retransmission timeout
SYN_RTO = 1.0  # the first SYN retransmission
QUEUE = 64  # chunks in flight per direction before the reader waits (backpressure)


class Link:
    """The mode in force and the gate partitioned traffic waits at."""

    def __init__(self, control: Path, status: Path, port: int) -> None:
        self.control, self.status_path, self.port = control, status, port
        self.mode = "pass"
        self.latency = 0.0
        self.loss = 0.0
        self.generation = 0
        self.since = time.time()
        self.opened = asyncio.Event()
        self.opened.set()
        self.waiting = 0
        self.connections = 0
        self.total = 0
        self.refused = 0
        self._mtime = 0.0

    def reload(self, force: bool = False) -> None:
        try:
            mtime = self.control.stat().st_mtime_ns
            if not force and mtime == self._mtime:
                return
            data = json.loads(self.control.read_text())
        except (OSError, ValueError):
            return
        self._mtime = mtime
        mode = str(data.get("mode", "pass"))
        latency = float(data.get("latency_ms", 0)) / 1000
        loss = float(data.get("loss_percent", 0)) / 100
        generation = int(data.get("generation", 0))
        if (mode, latency, loss) != (self.mode, self.latency, self.loss):
            self.since = time.time()
        self.mode, self.latency, self.loss, self.generation = mode, latency, loss, generation
        if mode == "partition":
            self.opened.clear()
        else:
            self.opened.set()
        self.write_status()

    def write_status(self) -> None:
        data = {
            "pid": os.getpid(),
            "port": self.port,
            "mode": self.mode,
            "latency_ms": round(self.latency * 1000),
            "loss_percent": self.loss * 100,
            "since": self.since,
            "generation": self.generation,
            "connections": self.connections,
            "connections_total": self.total,
            "waiting": self.waiting,
            "refused": self.refused,
        }
        tmp = self.status_path.with_name(f".{self.status_path.name}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.status_path)

    async def gate(self) -> None:
        """Return when traffic may pass; while partitioned, wait (and be counted)."""
        if self.opened.is_set():
            return
        self.waiting += 1
        try:
            await self.opened.wait()
        finally:
            self.waiting -= 1

    def delay(self, streak: int) -> tuple[float, int]:
        """Extra delay of one chunk in `slow` mode, and the new loss streak."""
        if self.mode != "slow":
            return 0.0, 0
        if self.loss and random.random() < self.loss:
            return self.latency + RTO * 2**streak, streak + 1
        return self.latency, 0


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, link: Link) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(QUEUE)

    async def deliver() -> None:
        while True:
            item = await queue.get()
            if item is None:
                if dst.can_write_eof():
                    with contextlib.suppress(OSError):
                        dst.write_eof()
                return
            due, data = item
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await link.gate()
            dst.write(data)
            await dst.drain()

    sender = asyncio.create_task(deliver())
    last, streak = 0.0, 0
    try:
        while True:
            await link.gate()
            data = await src.read(CHUNK)
            if not data:
                break
            extra, streak = link.delay(streak)
            last = max(loop.time() + extra, last)
            await queue.put((last, data))
        await queue.put(None)
        await sender
    finally:
        sender.cancel()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0), as a closed port answers."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


def _upstream_port(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


async def _serve(
    link: Link, upstream: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    link.connections += 1
    link.total += 1
    try:
        await link.gate()
        extra, _ = link.delay(0)
        if link.mode == "slow" and link.loss and random.random() < link.loss:
            extra += SYN_RTO
        if extra:
            await asyncio.sleep(extra)
        await link.gate()
        port = _upstream_port(upstream)
        try:
            if port is None:
                raise OSError("the hub has no port file")
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            link.refused += 1
            _reset(writer)
            return
        try:
            async with asyncio.TaskGroup() as pumps:
                pumps.create_task(_pump(reader, up_writer, link))
                pumps.create_task(_pump(up_reader, writer, link))
        except* OSError:
            pass  # a reset on either side ends both directions
        finally:
            up_writer.close()
    finally:
        link.connections -= 1
        writer.close()


def _listen_port(port_file: Path) -> int:
    """The port used before (the agent keeps dialling it across proxy restarts), else 0."""
    with contextlib.suppress(OSError, ValueError):
        return int(port_file.read_text().strip())
    return 0


async def main(args: argparse.Namespace) -> None:
    port_file, control, status = Path(args.port_file), Path(args.control), Path(args.status)
    link = Link(control, status, 0)
    # Signals are ours before the status says we are up: `set_mode` sends SIGHUP as soon as
    # it reads that status, and SIGHUP's default action ends the process.
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, lambda: link.reload(force=True))
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    server = await asyncio.start_server(
        lambda r, w: _serve(link, Path(args.upstream_port_file), r, w),
        host="127.0.0.1",
        port=_listen_port(port_file),
        reuse_address=True,
    )
    port = server.sockets[0].getsockname()[1]
    tmp = port_file.with_name(f".{port_file.name}.tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(port_file)
    link.port = port
    link.reload(force=True)
    link.write_status()
    async with server:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            link.reload()
            link.write_status()


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="The local runtime's spoke-to-hub link.")
    p.add_argument("--port-file", required=True, help="where the listening port is written")
    p.add_argument("--upstream-port-file", required=True, help="the hub's port file")
    p.add_argument("--control", required=True, help="the mode to apply (JSON)")
    p.add_argument("--status", required=True, help="the mode applied (JSON), written here")
    return p.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_args()))
