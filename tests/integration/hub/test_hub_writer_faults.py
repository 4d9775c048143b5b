"""The store writer outlives a failure of its own: one thread answers every write of the
hub, so its end is the hub's silence (every later request waits for ever, nothing said).
Found from outside with PostgreSQL restarted under load (test_hub_store_outage.py); here
the writer's own steps around a group fail: the observer of groups and the step between
groups (SQLite's checkpoint)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text

from kindfleet.platform.store import engine as dialect
from kindfleet.platform.store.engine import StoreUnavailable
from kindfleet.platform.store.writer import Writer


def _fails_once(what: str) -> Callable[..., None]:
    calls = []

    def step(*_: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(f"{what} failed")

    return step


def _insert(value: str) -> Callable[[Connection], str]:
    def job(conn: Connection) -> str:
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
        return value

    return job


@pytest.mark.parametrize("step", ["on_group", "between_groups"])
async def test_a_failing_step_of_the_writer_is_said_and_the_next_writes_go_on(
    tmp_path: Path, step: str, caplog
):
    engine = dialect.make_engine(dialect.parse_url(f"sqlite:///{tmp_path / 'hub.db'}"))
    writer = Writer(engine, **{step: _fails_once(step)})
    writer.start()
    try:
        async with asyncio.timeout(30):  # a writer that died leaves these waiting for ever
            with contextlib.suppress(StoreUnavailable):  # answered, not held
                await writer.run(lambda c: c.execute(text("CREATE TABLE t (v TEXT)")))
            await writer.run(lambda c: c.execute(text("CREATE TABLE IF NOT EXISTS t (v TEXT)")))
            assert await writer.run(_insert("a")) == "a"
            rows = await writer.run(lambda c: c.execute(text("SELECT v FROM t")).all())
        assert [r[0] for r in rows] == ["a"]
        assert f"{step} failed" in caplog.text
    finally:
        writer.close()
        engine.dispose()


async def test_a_commit_lost_on_its_way_has_the_state_in_memory_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Found from outside (PostgreSQL behind a proxy killed at random): a COMMIT that
    reached the server while the connection dropped before its answer was durable, and
    the hub, told it failed, had dropped its after-commit steps: the workload was stored
    and never queued. After such a commit the writer has `resync` read the state again,
    before its next group."""
    engine = dialect.make_engine(dialect.parse_url(f"sqlite:///{tmp_path / 'hub.db'}"))
    writer = Writer(engine)
    seen: list[list[str]] = []
    writer.resync = lambda c: seen.append([r[0] for r in c.execute(text("SELECT v FROM t"))])
    real = engine.dialect.do_commit
    lost: list[str] = []

    def durable_then_lost(dbapi_connection: Any) -> None:
        real(dbapi_connection)
        if lost == ["arm"]:
            lost.append("lost")
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")

    monkeypatch.setattr(engine.dialect, "do_commit", durable_then_lost)
    writer.start()
    try:
        async with asyncio.timeout(30):
            await writer.run(lambda c: c.execute(text("CREATE TABLE t (v TEXT)")))
            lost.append("arm")
            with pytest.raises(StoreUnavailable):
                await writer.run(_insert("a"))  # stored, and said to have failed
            assert seen == []
            assert await writer.run(_insert("b")) == "b"
            assert seen == [["a"]]  # read again once, before the next group
            await writer.run(_insert("c"))
            assert seen == [["a"]]
    finally:
        writer.close()
        engine.dispose()


class _Proxy:
    """A TCP relay to the database that can go silent without closing anything (a hung
    pooler, a middlebox that keeps acknowledging): nothing is relayed while `silent`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.silent = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                while self.silent.is_set():  # held, not dropped, not closed
                    time.sleep(0.05)
                dst.sendall(data)

    def close(self) -> None:
        self.server.close()
        for s in self.open:
            with contextlib.suppress(OSError):
                s.close()


async def test_a_store_that_goes_silent_has_the_writer_cut_its_connection(pg_url: str):
    """Found from outside (PostgreSQL behind a proxy that went silent for 10 s): the
    writer waited on its connection for ever, and every write of the hub behind it
    (`/readyz` still 503 a minute after the path healed). A transaction that waits past
    the stall limit has its connection cut; the write fails, the next one reconnects."""
    url = dialect.parse_url(pg_url)
    proxy = _Proxy((url.host or "127.0.0.1", url.port or 5432))
    engine = dialect.make_engine(url.set(port=proxy.port))
    writer = Writer(engine, stall_seconds=1.0)
    writer.start()
    try:
        async with asyncio.timeout(60):  # before: for ever
            await writer.run(lambda c: c.execute(text("CREATE TABLE t (v TEXT)")))
            proxy.silent.set()
            stuck = asyncio.ensure_future(writer.run(_insert("a")))
            await asyncio.sleep(0.5)
            assert not stuck.done()
            with pytest.raises(StoreUnavailable):
                await stuck  # cut, and answered
            proxy.silent.clear()
            assert await writer.run(_insert("b")) == "b"  # a new connection
    finally:
        writer.close(timeout=5)
        engine.dispose()
        proxy.close()


async def test_a_stall_while_the_state_is_read_again_is_cut_too(monkeypatch: pytest.MonkeyPatch):
    """Found in review: the watchdog watched only the jobs' transaction, not the resync
    that comes right after a lost connection (on the same flaky path), nor a new
    connection's first statements: a stall there hung the writer as before."""
    from kindfleet.platform.store import writer as writer_module

    cuts: list[float] = []
    monkeypatch.setattr(writer_module, "_shut", lambda conn: cuts.append(time.monotonic()))
    engine = create_engine("sqlite://")
    engine.dialect.name = "postgresql"  # the watchdog watches PostgreSQL writers only
    writer = Writer(engine, stall_seconds=0.2)
    writer.resync = lambda conn: time.sleep(1.0)  # the server stalls as the state is read
    writer.unsure = True
    writer.start()
    try:
        async with asyncio.timeout(30):
            await writer.run(lambda conn: 1)
        assert cuts  # seen, and cut (here the stand-in cut only counts)
    finally:
        writer.close(timeout=5)
        engine.dispose()
