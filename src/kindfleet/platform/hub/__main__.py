"""`python -m kindfleet.platform.hub`: the hub as a process, the way runtimes start it.

The contract with whoever starts it (the local runtime, tests, a container): flags or
`KINDFLEET_HUB_*` variables in; `--port 0` binds a free port and the port is written to
`--port-file` (atomically) once the hub answers; SIGTERM or SIGINT drain in-flight
requests, release long-polls, stop the scheduler, close the store, and exit 0. Exit 2 on
bad flags, 3 when a prerequisite (the store, its lock, the port) is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import uvicorn

from kindfleet.errors import KindfleetError, PrerequisiteError
from kindfleet.platform import collector, openfiles
from kindfleet.platform.hub.api.app import create_app
from kindfleet.platform.hub.api.connections import guarded
from kindfleet.platform.hub.service.dashboard import Dashboard
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.safelog import SafeFormatter
from kindfleet.platform.hub.service.scheduler import running
from kindfleet.platform.hub.settings import HubSettings, from_args
from kindfleet.platform.logfiles import PrivateLog

log = logging.getLogger("kindfleet.hub")


class _Redact(logging.Filter):
    """Belt and braces: the hub never logs a token, and this filter blanks any that slips."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(s in text for s in self._secrets):
            for secret in self._secrets:
                text = text.replace(secret, "<redacted>")
            record.msg, record.args = text, None
        return True


def configure_logging(settings: HubSettings) -> None:
    log_file = settings.log_file
    handler: logging.Handler = (
        PrivateLog(log_file) if log_file is not None else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact([settings.client_token, settings.fleet_token or ""]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())


def private_output() -> None:
    """What this process writes is for its owner only: files it creates are 0600 in 0700
    directories (its store, the store's -wal and -shm, its log), and a log file the
    runtime redirected its output to is made 0600 too (it may hold workload names and
    refused requests; the store holds workload env values)."""
    os.umask(0o077)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                os.fchmod(fd, 0o600)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PrerequisiteError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="pick another --port, or --port 0 for any free one",
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def write_port_file(path: Path, port: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{port}\n", encoding="utf-8")
    os.replace(tmp, path)


class _Server(uvicorn.Server):
    """uvicorn, plus: release long-polls at the first signal, announce the port when up."""

    def __init__(
        self, config: uvicorn.Config, on_exit: Callable[[], None], on_up: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self._on_exit = on_exit
        self._on_up = on_up

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_up()


async def serve(settings: HubSettings, sock: socket.socket) -> None:
    app = create_app(settings)
    hub: HubService = app.state.hub
    port = sock.getsockname()[1]
    connections, open_files = openfiles.connection_budget(settings.max_connections)
    if connections < settings.max_connections:
        log.warning(
            "at most %d connections, not %d: this process may open %d files and keeps %d "
            "for itself; raise the limit (ulimit -n) for more",
            connections,
            settings.max_connections,
            open_files,
            openfiles.RESERVE,
        )
    config = uvicorn.Config(
        app,
        lifespan="off",  # `running` below owns the store and the scheduler
        log_config=None,
        access_log=False,
        loop="uvloop",
        ws="none",
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        timeout_keep_alive=max(1, round(settings.keep_alive_seconds)),
        http=guarded(
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
            connections,
        ),
        proxy_headers=False,
        server_header=False,
        backlog=2048,
    )

    def up() -> None:
        collector.quiet()  # before anyone is told where the hub listens
        if settings.port_file is not None:
            write_port_file(settings.port_file, port)
        log.info("hub listening on http://%s:%d", settings.host, port)
        hub.serving()

    board: Dashboard = app.state.dashboard
    async with running(hub, serving=False), board.sampling():
        server = _Server(config, on_exit=hub.release_waiters, on_up=up)
        _signals["serving"] = True
        await server.serve(sockets=[sock])


_signals = {"serving": False}


def _on_signal(sig: int, _frame: FrameType | None) -> None:
    """Before uvicorn serves: stop at once. After: uvicorn re-raises the signal it
    already handled gracefully; ignoring it here makes the exit code 0."""
    if not _signals["serving"]:
        raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = from_args(argv)
    except KindfleetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    private_output()
    configure_logging(settings)
    # The store's writer thread hands the GIL back after every database call; with the
    # event loop busy, the default 5 ms switch interval makes each hand-back a stall.
    sys.setswitchinterval(0.0005)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)
    try:
        sock = bind(settings.host, settings.port)
        with contextlib.closing(sock), asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(settings, sock))
    except KindfleetError as exc:
        log.error("%s", exc)
        return exc.exit_code
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    sys.exit(main())
