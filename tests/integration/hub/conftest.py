"""Hub integration fixtures: a real PostgreSQL 15 server, stores of both kinds, a hub
service on a fake clock, and spoke drivers that speak the protocol to it.

The PostgreSQL server is started once per session with initdb/pg_ctl in a temporary
directory on a free port (as the `postgres` user when the tests run as root, since
PostgreSQL refuses to run as root); every test gets a database of its own. Without the
binaries the PostgreSQL half of each test is skipped, with the reason.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.settings import HubSettings
from kindfleet.platform.hub.testing import FakeClock
from kindfleet.platform.wire import (
    Capacity,
    EventBatch,
    EventType,
    HeartbeatRequest,
    HeldAssignment,
    RegisterRequest,
    StatusEvent,
    TelemetryPoint,
    WorkloadSpec,
)

PG_BIN_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/15/bin"]
CLIENT_TOKEN = "client-token-for-tests-0123456789"
BOOTSTRAP_TOKEN = "bootstrap-token-for-tests-0123456789"
GI = 2**30


def _pg_binary(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        path = Path(directory) / name
        if path.exists():
            return str(path)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.initdb = _pg_binary("initdb")
        self.pg_ctl = _pg_binary("pg_ctl")
        self.home = Path(tempfile.mkdtemp(prefix="kf-pg-"))
        self.data = self.home / "data"
        self.port = _free_port()
        self.user = "kf"
        self._run_as: str | None = None
        if os.geteuid() == 0:
            self._run_as = "postgres"
            entry = pwd.getpwnam("postgres")
            os.chown(self.home, entry.pw_uid, entry.pw_gid)

    def _run(self, *argv: str) -> None:
        subprocess.run(list(argv), check=True, capture_output=True, timeout=120, user=self._run_as)

    def start(self) -> None:
        assert self.initdb and self.pg_ctl
        self._run(self.initdb, "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8")
        self.resume()

    def resume(self) -> None:
        """Start the server on its data directory (again, after `halt`)."""
        assert self.pg_ctl
        options = (
            f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 "
            "-c fsync=on -c synchronous_commit=on -c max_connections=200"
        )
        self._run(
            self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.home / "log"), "-w",
            "start",
        )  # fmt: skip

    def halt(self) -> None:
        """Stop the server as a crash would (no shutdown checkpoint), keeping its data."""
        assert self.pg_ctl
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        try:
            with contextlib.suppress(subprocess.CalledProcessError):  # halted already
                self.halt()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{dbname}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if not (_pg_binary("initdb") and _pg_binary("pg_ctl")):
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found in /usr/local/bin or PATH")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    server = PostgresServer()
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        server.stop()
        pytest.skip(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')[-500:]}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    name = f"kf_{uuid.uuid4().hex[:12]}"
    with postgres.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres.url(name)
    with postgres.admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def hub_settings(store: str, **overrides: Any) -> HubSettings:
    values: dict[str, Any] = {
        "store": store,
        "client_token": CLIENT_TOKEN,
        "scheduler": False,
        "heartbeat_seconds": 2,
        "lease_seconds": 6,
        "lost_after_seconds": 30,
        "redeliver_seconds": 5,
    }
    values.update(overrides)
    return HubSettings(**values)


class HubFactory:
    """Starts hub services on one store; `restart()` is a new hub process on the same data."""

    def __init__(self, store: str, clock: FakeClock) -> None:
        self.store = store
        self.clock = clock
        self.running: list[HubService] = []

    async def start(self, **overrides: Any) -> HubService:
        hub = HubService(hub_settings(self.store, **overrides), clock=self.clock)
        await hub.start()
        hub.serving()
        self.running.append(hub)
        return hub

    async def restart(self, hub: HubService, **overrides: Any) -> HubService:
        await self.stop(hub)
        return await self.start(**overrides)

    async def stop(self, hub: HubService) -> None:
        if hub in self.running:
            self.running.remove(hub)
            await hub.close()


@pytest.fixture
async def hubs(store_url: str, clock: FakeClock) -> Any:
    factory = HubFactory(store_url, clock)
    yield factory
    for hub in list(factory.running):
        await factory.stop(hub)


@pytest.fixture
async def hub(hubs: HubFactory) -> HubService:
    return await hubs.start()


def spec(name: str = "train", **kw: Any) -> WorkloadSpec:
    kw.setdefault("command", ["python", "train.py"])
    return WorkloadSpec(name=name, **kw)


class SpokeDriver:
    """A spoke agent in miniature: registers, heartbeats, polls and reports with seqs."""

    def __init__(
        self,
        hub: HubService,
        name: str,
        *,
        cpu: int = 4000,
        memory: int = 8 * GI,
        gpus: int = 0,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.hub = hub
        self.name = name
        self.capacity = Capacity(cpu_millis=cpu, memory_bytes=memory, gpus=gpus)
        self.labels = labels or {}
        self.seq = itertools.count(1)
        self.credential: str | None = None

    async def register(self) -> SpokeDriver:
        token = await self.hub.mint_join_token(self.name, None)
        response = await self.hub.register(
            self.hub.identify(f"Bearer {token.token}"),
            RegisterRequest(
                name=self.name, labels=self.labels, capacity=self.capacity, executor="process"
            ),
        )
        self.credential = response.credential
        return self

    async def beat(self, held: list[tuple[str, int]] | None = None) -> Any:
        req = HeartbeatRequest(
            capacity=self.capacity,
            held=[HeldAssignment(workload=w, generation=g) for w, g in held or []],
        )
        return await self.hub.heartbeat(self.name, req)

    async def poll(self, wait: float = 0) -> list[Any]:
        return (await self.hub.poll(self.name, wait)).items

    def event(self, workload: str, generation: int, kind: EventType, **kw: Any) -> StatusEvent:
        return StatusEvent(
            seq=next(self.seq),
            workload=workload,
            generation=generation,
            type=kind,
            at=datetime.now(UTC),
            **kw,
        )

    async def send(
        self, *events: StatusEvent, telemetry: list[TelemetryPoint] | None = None
    ) -> Any:
        return await self.hub.ingest(
            self.name, EventBatch(events=list(events), telemetry=telemetry or [])
        )

    async def report(self, workload: str, generation: int, kind: EventType, **kw: Any) -> Any:
        return await self.send(self.event(workload, generation, kind, **kw))


@pytest.fixture
def make_spoke(hub: HubService) -> Any:
    async def make(name: str, **kw: Any) -> SpokeDriver:
        return await SpokeDriver(hub, name, **kw).register()

    return make


@pytest.fixture
def driver() -> type[SpokeDriver]:
    return SpokeDriver


@pytest.fixture
def make_spec() -> Any:
    return spec
