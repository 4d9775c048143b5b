"""The local runtime's spoke-to-hub link, as a real process between a client and a real
TCP server standing for the hub: what passes, what a partition does to new and open
connections (they hang: no data, no EOF, no reset), that a heal delivers what was held,
what `slow` adds, and that an upstream restarted on its port is reached again."""

from __future__ import annotations

import os
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kindfleet.providers.local import link, processes


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class Upstream:
    """An echo server on a fixed port, with the port file a hub would write."""

    def __init__(self, port_file: Path) -> None:
        self.port_file = port_file
        self.port = 0
        self.server: socketserver.ThreadingTCPServer | None = None

    def start(self) -> None:
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Echo)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self.port_file.write_text(f"{self.port}\n")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.server = server

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[tuple[link.LinkFiles, Upstream]]:
    upstream = Upstream(tmp_path / "hub.port")
    upstream.start()
    files = link.LinkFiles(tmp_path / "spoke")
    link.start(sys.executable, files, upstream.port_file)
    try:
        yield files, upstream
    finally:
        link.stop(files)
        if upstream.server is not None:
            upstream.stop()


def _connect(files: link.LinkFiles) -> socket.socket:
    url = files.url()
    assert url is not None
    return socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5)


def _echo(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def _silent_for(sock: socket.socket, seconds: float) -> bool:
    """True when nothing at all (no data, no EOF, no reset) arrives for `seconds`."""
    sock.settimeout(seconds)
    try:
        sock.recv(1)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(5)
    return False


def test_partition_hangs_open_and_new_connections_and_a_heal_delivers_late(wire):
    files, _ = wire
    open_conn = _connect(files)
    assert _echo(open_conn, b"before") == b"before"

    link.set_mode(files, "partition")
    state = link.state("s", files)
    assert state.mode == "partition" and state.since > time.time() - 5
    open_conn.sendall(b"during")
    new_conn = _connect(files)  # accepted, as a SYN that is never answered is not refused
    new_conn.sendall(b"hello")
    assert _silent_for(open_conn, 1.0)
    assert _silent_for(new_conn, 0.5)
    assert link.state("s", files).waiting >= 2  # both held at the partition, observably

    link.set_mode(files, "pass")
    assert open_conn.recv(64) == b"during"
    assert new_conn.recv(64) == b"hello"
    assert link.state("s", files).mode == "pass"


def test_slow_adds_latency_each_way(wire):
    files, _ = wire
    link.set_mode(files, "slow", latency_ms=300)
    conn = _connect(files)
    started = time.monotonic()
    assert _echo(conn, b"x") == b"x"
    assert time.monotonic() - started >= 0.6  # 300 ms there and 300 ms back, at least
    state = link.state("s", files)
    assert (state.mode, state.latency_ms) == ("slow", 300)


def test_an_upstream_restarted_on_its_port_is_reached_again(wire):
    files, upstream = wire
    upstream.stop()
    # A closed port answers with a reset, passed on to the client: at its recv, or at its
    # connect when the proxy accepted and reset before the client ran again (CI, loaded).
    with pytest.raises(ConnectionResetError):
        _echo(_connect(files), b"x")
    upstream.start()
    assert _echo(_connect(files), b"back") == b"back"


def test_a_restarted_proxy_keeps_its_port_and_its_mode(wire):
    files, _ = wire
    url = files.url()
    link.set_mode(files, "partition")
    link.stop(files)
    link.start(sys.executable, files, wire[1].port_file)
    assert files.url() == url
    assert link.state("s", files).mode == "partition"
    link.set_mode(files, "pass")
    assert _echo(_connect(files), b"ok") == b"ok"


def test_a_sighup_the_moment_the_proxy_shows_up_is_a_reload_not_its_end(wire):
    """`set_mode` signals the proxy as soon as it reads the proxy's status (seen under
    load: a restarted proxy killed by SIGHUP's default action, 'did not apply pass'). The
    proxy takes its signals before it writes its port, let alone its status: signalled the
    instant its port file appears, it must live and apply the mode."""
    files, upstream = wire
    for _ in range(5):
        link.stop(files)
        files.port.unlink(missing_ok=True)
        started = threading.Thread(
            target=link.start, args=(sys.executable, files, upstream.port_file)
        )
        started.start()
        while not files.port.exists():
            time.sleep(0.0005)
        handle = processes.running(files.pidfile)
        assert handle is not None
        os.kill(handle.pid, signal.SIGHUP)
        started.join()
        assert processes.alive(handle), "the proxy died of a SIGHUP at its start"
        link.set_mode(files, "pass")
        assert _echo(_connect(files), b"ok") == b"ok"
