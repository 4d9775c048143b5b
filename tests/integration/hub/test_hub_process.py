"""The hub as the runtimes start it: `python -m kindfleet.platform.hub`, real HTTP, real
signals. Port file, graceful SIGTERM (exit 0, long-polls released), data that survives a
restart and a kill -9 right after the 2xx, bad flags, one hub per store, no token in
the log file."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest

from kindfleet.platform.client import HubClient
from kindfleet.platform.hub.testing import HubProcess

SPEC = {"name": "train", "command": ["python", "train.py"]}
CAPACITY = {"cpu_millis": 4000, "memory_bytes": 2**33, "gpus": 0}


@pytest.fixture
def hub_process(tmp_path: Path):
    hubs: list[HubProcess] = []

    def make(**kw) -> HubProcess:
        hub = HubProcess(tmp_path / f"hub{len(hubs)}", **kw)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.kill()


def register(hub: HubProcess, name: str) -> str:
    response = httpx2.post(
        f"{hub.url}/v1/spokes/register",
        json={"name": name, "capacity": CAPACITY, "executor": "process"},
        headers={"Authorization": f"Bearer {hub.join_token(name)}"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["credential"])


@pytest.mark.slow
def test_start_serve_sigterm_restart(hub_process):
    hub = hub_process().start()
    assert int(hub.port_file.read_text()) == hub.port
    with HubClient(hub.url, hub.client_token) as client:
        assert client.health() and client.ready()
        wid = client.submit(SPEC, idempotency_key="k1").workload.id
    started = time.monotonic()
    assert hub.stop() == 0
    assert time.monotonic() - started < 10
    assert "hub stopped" in hub.log()

    hub.start()  # same home, same store
    with HubClient(hub.url, hub.client_token) as client:
        assert client.get(wid).id == wid
        assert client.submit(SPEC, idempotency_key="k1").created is False
    assert hub.stop() == 0


def test_sigterm_releases_long_polls(hub_process):
    hub = hub_process().start()
    credential = register(hub, "s1")
    result: dict[str, object] = {}

    def poll() -> None:
        started = time.monotonic()
        response = httpx2.get(
            f"{hub.url}/v1/spokes/s1/assignments?wait=25",
            headers={"Authorization": f"Bearer {credential}"},
            timeout=30,
        )
        result["status"] = response.status_code
        result["seconds"] = time.monotonic() - started

    waiting = threading.Thread(target=poll)
    waiting.start()
    with HubClient(hub.url, hub.client_token) as client:  # until the poll waits in the hub
        deadline = time.monotonic() + 30
        while "kindfleet_hub_long_polls 1.0" not in client.metrics():
            assert time.monotonic() < deadline, "the poll never reached the hub"
            time.sleep(0.05)
    assert hub.stop() == 0
    waiting.join(10)
    assert result["status"] == 200
    assert float(str(result["seconds"])) < 10


@pytest.mark.slow
def test_every_acknowledged_submission_survives_kill_9(hub_process):
    hub = hub_process().start()
    acked: list[str] = []
    stop = threading.Event()

    def submit_forever(worker: int) -> None:
        with HubClient(hub.url, hub.client_token, timeout=5) as client:
            i = 0
            while not stop.is_set():
                try:
                    response = client.submit(SPEC, idempotency_key=f"w{worker}-{i}")
                except Exception:  # the hub died mid-request: not acknowledged
                    return
                acked.append(response.workload.id)
                i += 1

    workers = [threading.Thread(target=submit_forever, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    while len(acked) < 300:
        time.sleep(0.01)
    hub.kill()  # kill -9 with submissions in flight
    stop.set()
    for w in workers:
        w.join(10)
    snapshot = list(acked)

    hub.start()
    with HubClient(hub.url, hub.client_token) as client:
        stored = {w.id for w in client.iter_workloads(limit=1000)}
    missing = [wid for wid in snapshot if wid not in stored]
    assert missing == [], f"{len(missing)} of {len(snapshot)} acknowledged submissions lost"
    assert hub.stop() == 0


@pytest.mark.slow
def test_kill_9_right_after_a_2xx(hub_process):
    hub = hub_process().start()
    with HubClient(hub.url, hub.client_token) as client:
        wid = client.submit(SPEC, idempotency_key="just-before").workload.id
    hub.kill()
    hub.start()
    with HubClient(hub.url, hub.client_token) as client:
        assert client.get(wid).state.value == "Pending"


@pytest.mark.slow
def test_postgresql_store(hub_process, pg_url):
    hub = hub_process(store=pg_url).start()
    with HubClient(hub.url, hub.client_token) as client:
        wid = client.submit(SPEC, idempotency_key="k").workload.id
    hub.kill()
    hub.start()
    with HubClient(hub.url, hub.client_token) as client:
        assert client.get(wid).id == wid
    assert hub.stop() == 0


def test_one_hub_per_store(hub_process, tmp_path):
    first = hub_process().start()
    store = f"sqlite:///{(first.home / 'hub.db').resolve()}"
    second = hub_process(store=store, extra_args=["--store-lock-wait-seconds", "0.3"])
    with pytest.raises(RuntimeError, match="exited with 3"):
        second.start()
    assert "another hub is already using the store" in second.log()
    assert first.stop() == 0


def run_main(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kindfleet.platform.hub", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_flags_exit_2_without_a_traceback(tmp_path):
    result = run_main("--store", "sqlite:///x.db", "--client-token-file", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "cannot read the client token file" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_from_the_environment(tmp_path, hub_process):
    hub = hub_process()
    argv = hub.argv()
    env_args = {
        "--store": "KINDFLEET_HUB_STORE",
        "--lost-after-seconds": "KINDFLEET_HUB_LOST_AFTER_SECONDS",
    }
    env = {}
    for flag, var in env_args.items():
        if flag in argv:
            i = argv.index(flag)
            env[var] = argv[i + 1]
            del argv[i : i + 2]
    env.setdefault("KINDFLEET_HUB_LOST_AFTER_SECONDS", "45")
    hub.env = env
    hub.argv = lambda: argv  # type: ignore[method-assign]
    hub.start()
    assert "lost after 45s" in hub.log()
    assert hub.stop() == 0


def test_no_token_in_the_log_file(hub_process):
    hub = hub_process(extra_args=["--log-level", "debug"]).start()
    credential = register(hub, "s1")
    register(hub, "s2")
    with HubClient(hub.url, hub.client_token) as client:
        wid = client.submit(SPEC).workload.id
        time.sleep(1)  # a scheduler pass places it
        client.cancel(wid)
    httpx2.get(f"{hub.url}/v1/spokes", headers={"Authorization": f"Bearer {credential}x"})
    httpx2.get(
        f"{hub.url}/v1/spokes/s1/assignments", headers={"Authorization": f"Bearer {credential}"}
    )
    assert hub.stop() == 0
    log = hub.log()
    assert "placed on spoke" in log and "registered" in log
    for secret in (hub.client_token, credential):
        assert secret not in log


@pytest.mark.slow
def test_a_store_file_deleted_under_the_hub_stops_acknowledgements(hub_process):
    """Issue 14.3: SQLite keeps writing into a deleted file; the hub must notice, answer
    503 instead of 2xx, say so on /readyz, and say what to do."""
    hub = hub_process().start()
    with HubClient(hub.url, hub.client_token) as client:
        before = client.submit(SPEC, idempotency_key="before").workload.id
    assert httpx2.get(f"{hub.url}/readyz").status_code == 200
    for suffix in ("", "-wal", "-shm"):
        (hub.home / f"hub.db{suffix}").unlink(missing_ok=True)

    headers = {"Authorization": f"Bearer {hub.client_token}", "Idempotency-Key": "after"}
    after = httpx2.post(f"{hub.url}/v1/workloads", json=SPEC, headers=headers, timeout=30)
    assert after.status_code == 503, after.text
    assert "retry later" in after.json()["detail"]
    ready = httpx2.get(f"{hub.url}/readyz", timeout=30)
    assert ready.status_code == 503, ready.text
    assert "deleted or replaced while the hub ran" in hub.log()  # and what to do about it
    assert "restore the store" in hub.log()
    assert before  # acknowledged before the loss: the operator restores it from a backup
    _no_read_answers_from_another_store(hub, before)


def _no_read_answers_from_another_store(hub: HubProcess, acknowledged: str) -> None:
    """Found from outside: the hub refused writes but read the new, empty store, and an
    acknowledged workload was a 404 (a client could take it for never stored)."""
    auth = {"Authorization": f"Bearer {hub.client_token}"}
    for path in (f"/v1/workloads/{acknowledged}", "/v1/workloads", "/v1/spokes"):
        answer = httpx2.get(f"{hub.url}{path}", headers=auth, timeout=30)
        assert answer.status_code == 503, (path, answer.text)


@pytest.mark.slow
def test_a_postgresql_database_replaced_under_the_hub_answers_no_read(
    hub_process, postgres, pg_url
):
    hub = hub_process(store=pg_url).start()
    with HubClient(hub.url, hub.client_token) as client:
        before = client.submit(SPEC, idempotency_key="before").workload.id
    name = pg_url.rsplit("/", 1)[1]
    with postgres.admin() as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    headers = {"Authorization": f"Bearer {hub.client_token}", "Idempotency-Key": "after"}
    deadline = time.monotonic() + 60
    while "was replaced while the hub ran" not in hub.log():  # its writer reconnects
        httpx2.post(f"{hub.url}/v1/workloads", json=SPEC, headers=headers, timeout=30)
        assert time.monotonic() < deadline, hub.log()
        time.sleep(0.2)
    _no_read_answers_from_another_store(hub, before)


def test_the_log_follows_its_path_after_a_rotation(hub_process):
    """A logrotate-style move: the hub went on writing into the moved file, and `hub.log`
    (what `kindfleet logs` reads) stayed empty."""
    hub = hub_process().start()
    rotated = hub.log_file.with_name("hub.log.1")
    hub.log_file.rename(rotated)
    assert hub.stop() == 0
    assert "hub stopped" in hub.log_file.read_text()
    assert "hub stopped" not in rotated.read_text()
