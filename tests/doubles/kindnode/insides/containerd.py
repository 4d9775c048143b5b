"""containerd: the daemon kind restarts after patching its config, and `config dump`.

The daemon loads /etc/containerd/config.toml (a file that is not valid TOML, or has no
`version`, makes it exit 1, so a broken containerdConfigPatch fails `systemctl restart
containerd` as it would for real), logs the settings it took from it, tells init it is
ready (Type=notify) and serves its socket, through which `ctr` and `crictl` reach the
image store (`imagestore`). `containerd config dump` prints the config file (kind reads
the snapshotter from it); the real one adds every default to it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

from . import imagestore
from .common import log

CONFIG = Path("/etc/containerd/config.toml")
SOCKET = Path("/run/containerd/containerd.sock")
VERSION = "v2.1.4"


def load() -> dict[str, Any]:
    text = CONFIG.read_text()
    config = tomllib.loads(text)
    if not isinstance(config.get("version"), int):
        raise ValueError("config has no integer `version`")
    return config


def cri_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings kind and its users patch most, wherever the config version keeps them."""
    plugins = config.get("plugins") or {}
    if config["version"] >= 3:
        images = plugins.get("io.containerd.cri.v1.images") or {}
        return {"snapshotter": images.get("snapshotter"),
                "sandbox": (images.get("pinned_images") or {}).get("sandbox"),
                "registry_config_path": (images.get("registry") or {}).get("config_path")}  # fmt: skip
    cri = plugins.get("io.containerd.grpc.v1.cri") or {}
    registry = cri.get("registry") or {}
    return {
        "snapshotter": (cri.get("containerd") or {}).get("snapshotter"),
        "sandbox": cri.get("sandbox_image"),
        "registry_config_path": registry.get("config_path"),
        "registry_mirrors": sorted(registry.get("mirrors") or {}),
    }


def handle(request: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911 (one answer per op)
    namespace = request.get("namespace") or "default"
    op = request.get("op")
    try:
        if op == "list":
            return {"images": imagestore.images(namespace)}
        if op == "import":
            done = imagestore.import_archive(
                namespace, Path(request["path"]), bool(request.get("digests"))
            )
            for name, digest in done:
                log(f'msg="image imported" name="{name}" digest="{digest}" namespace={namespace}')
            return {"imported": done}
        if op == "tag":
            found = imagestore.resolve(namespace, request["source"])
            if found is None:
                return {"error": f'image "{request["source"]}": not found'}
            with imagestore.locked(namespace) as known:
                if request["target"] in known and not request.get("force"):
                    return {"error": f'image "{request["target"]}": already exists'}
                known[request["target"]] = dict(found[1])
            return {"tagged": request["target"]}
        if op == "remove":
            with imagestore.locked(namespace) as known:
                gone = [n for n in request.get("names") or [] if known.pop(n, None) is not None]
            return {"removed": gone}
        if op == "resolve":
            found = imagestore.resolve(namespace, request["ref"])
            if found is None:
                return {"error": f'no such image "{request["ref"]}" present'}
            name, image = found
            return {
                "name": name,
                "image": image,
                "tags": imagestore.tags_of(namespace, image["id"]),
            }
    except (OSError, ValueError, KeyError) as exc:
        return {"error": str(exc)}
    return {"error": f"unknown request {op!r}"}


def serve() -> None:
    try:
        config = load()
    except (OSError, ValueError) as exc:
        log(f'msg="failed to load TOML from {CONFIG}" error="{exc}"', "E")
        sys.exit(1)
    log(f'msg="starting containerd" revision=kindnode version={VERSION}')
    settings = cri_settings(config)
    log("msg=\"loaded config\" path=" + str(CONFIG) + " version=" + str(config["version"]) + " "
        + " ".join(f"{k}={json.dumps(v)}" for k, v in settings.items()))  # fmt: skip
    SOCKET.parent.mkdir(parents=True, exist_ok=True)
    SOCKET.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(SOCKET))
    server.listen(32)
    log(f'msg="serving..." address={SOCKET}')
    notify = os.environ.get("NOTIFY_SOCKET")
    if notify:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(f"READY=1\nMAINPID={os.getpid()}".encode(), notify)
    log('msg="containerd successfully booted"')
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def answer(conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            request = json.loads(stream.readline() or b"{}")
            stream.write((json.dumps(handle(request)) + "\n").encode())

    while True:
        conn, _ = server.accept()
        threading.Thread(target=answer, args=(conn,), daemon=True).start()


def ask(request: dict[str, Any]) -> dict[str, Any]:
    """What a client (ctr, crictl) sends the daemon; exits like ctr when it is down."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(SOCKET))
            sock.sendall((json.dumps(request) + "\n").encode())
            return json.loads(sock.makefile("rb").readline() or b"{}")
    except OSError as exc:
        sys.stderr.write(f'ctr: failed to dial "{SOCKET}": connection error: {exc}\n')
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-v"]):
        print(f"containerd github.com/containerd/containerd/v2 {VERSION} kindnode")
        return
    if argv[:2] in (["config", "dump"], ["config", "default"]):
        try:
            load()
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"containerd: failed to load TOML from {CONFIG}: {exc}\n")
            sys.exit(1)
        sys.stdout.write(CONFIG.read_text())
        return
    serve()


if __name__ == "__main__":
    main()
