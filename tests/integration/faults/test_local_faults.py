"""Faults on a real local fleet (the hub and the agents as processes, as `kindfleet up`
starts them), through the Python API and the CLI: what each does to the platform as the
hub sees it, and what a stranger would try (kill -9 of a `--for` holder, `down` while
faults hold, a hub restart during a partition)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.waiting import until

from kindfleet import access
from kindfleet.fleet import Fleet
from kindfleet.fleetspec import from_text
from kindfleet.platform.client import HubClient, HubUnavailable
from kindfleet.providers.local import LocalProvider, processes

pytestmark = pytest.mark.slow

KINDFLEET = Path(sys.executable).with_name("kindfleet")
LOST_AFTER = 3.0
FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: faults
provider: local
spokes:
  - {name: fa-a, capacity: {cpu: 4, memory: 4Gi}}
  - {name: fa-b, capacity: {cpu: 4, memory: 4Gi}}
"""


class Local:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.file = root / "fleet.yaml"
        self.file.write_text(FLEET)
        self.provider = LocalProvider(root / "state", lost_after_seconds=LOST_AFTER)
        self.fleet = Fleet(from_text(FLEET, source=str(self.file)), provider=self.provider,
                           state_dir=root / "state")  # fmt: skip
        self.spec = self.fleet.spec

    def health(self) -> dict[str, str]:
        with self.fleet.hub(timeout=5) as hub:
            return {s.name: s.health.value for s in hub.spokes()}

    def beat(self, spoke: str) -> float:
        """When the hub last heard the spoke (0 when never)."""
        with self.fleet.hub(timeout=5) as hub:
            found = {s.name: s.last_heartbeat for s in hub.spokes()}
        at = found.get(spoke)
        return at.timestamp() if at else 0.0

    def cli(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KINDFLEET_STATE_DIR": str(self.root / "state")}
        return subprocess.run([str(KINDFLEET), *args, "-f", str(self.file)], env=env, check=False,
                              capture_output=True, text=True, timeout=120, **kw)  # fmt: skip

    def pid(self, cluster: str) -> int:
        handle = processes.running(self.provider.layout(self.spec).pidfile(cluster))
        assert handle is not None, f"{cluster} is not running"
        return handle.pid


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    env = Local(tmp_path_factory.mktemp("faults"))
    env.fleet.up(preflight=False, parallel=3)
    try:
        yield env
    finally:
        env.fleet.down()


@pytest.fixture
def fresh(local: Local) -> Iterator[Local]:
    """The module's fleet with no live fault and every spoke Ready, before and after."""
    until(lambda: set(local.health().values()) == {"Ready"}, 30, "every spoke Ready")
    yield local
    local.fleet.clear_faults()


def test_partition_cuts_one_spoke_off_the_hub_only(fresh: Local):
    record = fresh.fleet.fault("partition", "fa-a")
    until(lambda: fresh.health()["fa-a"] != "Ready", 10, "the hub to miss fa-a")
    assert fresh.health()["fa-b"] == "Ready"  # the other spoke and the hub's API work
    link = fresh.provider.link_state(fresh.spec, "fa-a")
    assert link.mode == "partition" and link.since >= record.injected_at - 1
    assert link.waiting >= 1  # the agent's requests hang at the cut
    assert psutil.Process(fresh.pid("fa-a")).is_running()  # the spoke itself is up
    fresh.fleet.clear_faults([record.id])
    until(lambda: fresh.health()["fa-a"] == "Ready", 30, "fa-a back after the heal")


def test_a_hub_restart_during_a_partition_is_reached_through_the_heal(fresh: Local):
    cut = fresh.fleet.fault("partition", "fa-a")
    down = fresh.fleet.fault("kill", "hub")
    assert processes.running(fresh.provider.layout(fresh.spec).pidfile("faults-hub")) is None
    fresh.fleet.clear_faults([down.id])  # the hub comes back on its port
    back = time.time()
    until(lambda: fresh.beat("fa-b") > back, 30, "fa-b to reach the new hub")
    time.sleep(1.0)
    assert fresh.beat("fa-a") < back, "a partitioned spoke reached the hub"
    fresh.fleet.clear_faults([cut.id])
    until(lambda: fresh.beat("fa-a") > back, 30, "fa-a to reach the new hub")


def test_a_hub_held_by_a_fault_is_said_to_be_so_when_it_cannot_be_reached(fresh: Local):
    """Not "is the hub running? start the fleet with `kindfleet up`": the user paused it."""
    hub = fresh.fleet.hub(timeout=0.5)  # opened before: a long command's client
    record = fresh.fleet.fault("pause", "hub")
    try:
        with pytest.raises(HubUnavailable) as refused, hub:
            hub.spokes()
        assert f"kindfleet fault clear {record.id}" in (refused.value.hint or "")
        assert "`pause`" in (refused.value.hint or "")
    finally:
        fresh.fleet.clear_faults([record.id])
    client = HubClient("http://127.0.0.1:9", "token", timeout=0.5)
    with pytest.raises(HubUnavailable) as plain, client:  # no fault held: the usual words
        client.spokes()
    assert "is the hub running?" in (plain.value.hint or "")


def test_a_follower_goes_on_while_the_hub_is_held_and_says_so_once(fresh: Local):
    """The hub says when a run has ended; paused, it cannot: the follower went on in
    silence, and looked hung once the run was over."""
    script = "for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.5; done"
    with fresh.fleet.hub(timeout=5) as hub:
        wid = hub.submit({"name": "ticks", "command": ["sh", "-c", script]}).workload.id
        until(lambda: hub.get(wid).state == "Running", 30, "the run to start")
        workload = hub.get(wid)
    notes: list[str] = []
    record = fresh.fleet.fault("pause", "hub")
    client = fresh.fleet.hub(timeout=0.5)
    follower = threading.Thread(
        target=access.follow_log,
        args=(fresh.spec, fresh.provider, client, workload),
        kwargs={"hub_silent": notes.append},
    )
    follower.start()
    try:
        until(lambda: notes, 60, "the follower to say the hub is silent")
        time.sleep(2)  # more looks at a silent hub: still one note
        fresh.fleet.clear_faults([record.id])
        follower.join(timeout=60)
        assert not follower.is_alive()  # the hub back, it said the run had ended
    finally:
        fresh.fleet.clear_faults()
        follower.join(timeout=60)
        client.close()
    assert len(notes) == 1
    assert "following on until it says the run has ended" in notes[0]
    assert f"kindfleet fault clear {record.id}" in notes[0]


def test_pause_freezes_the_agent_and_clear_thaws_it(fresh: Local):
    pid = fresh.pid("fa-b")
    record = fresh.fleet.fault("pause", "fa-b")
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    until(lambda: fresh.health()["fa-b"] != "Ready", 10, "the hub to miss frozen fa-b")
    fresh.fleet.clear_faults([record.id])
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED
    until(lambda: fresh.health()["fa-b"] == "Ready", 20, "fa-b back after the thaw")


def test_stop_and_kill_keep_the_spoke_down_until_cleared(fresh: Local):
    for action in ("stop", "kill"):
        before = fresh.pid("fa-a")
        with fresh.fleet.faulted(action, "fa-a"):
            time.sleep(0.5)
            pidfile = fresh.provider.layout(fresh.spec).pidfile("fa-a")
            assert processes.running(pidfile) is None, f"{action}: fa-a still runs"
            assert not psutil.pid_exists(before) or psutil.Process(before).status() == "zombie"
        assert fresh.pid("fa-a") != before  # started again, and Ready (create waits)
        assert fresh.health()["fa-a"] == "Ready"


def test_kill_9_of_a_for_holder_leaves_the_fault_on_record_for_clear(fresh: Local):
    env = {**os.environ, "KINDFLEET_STATE_DIR": str(fresh.root / "state")}
    holder = subprocess.Popen(
        [str(KINDFLEET), "fault", "partition", "fa-b", "--for", "60s", "-f", str(fresh.file)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        until(lambda: fresh.fleet.faults(live=True), 60, "the holder's fault on record")
        until(lambda: fresh.fleet.faults(live=True)[0].state == "active", 30, "it injected")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    listed = fresh.cli("fault", "list", "--live", "-o", "json")
    (record,) = json.loads(listed.stdout)
    assert record["state"] == "active" and record["cluster"] == "fa-b"
    table = fresh.cli("fault", "list")
    assert "holder is gone" in table.stdout
    assert fresh.provider.link_state(fresh.spec, "fa-b").mode == "partition"
    cleared = fresh.cli("fault", "clear", "--all")
    assert cleared.returncode == 0, cleared.stderr
    assert f"cleared {record['id']}" in cleared.stderr
    assert fresh.provider.link_state(fresh.spec, "fa-b").mode == "pass"


def test_the_cli_holds_a_fault_for_its_duration(fresh: Local):
    started = time.monotonic()
    held = fresh.cli("fault", "slow", "fa-a", "--for", "1s", "--latency", "50ms", "--loss", "1%")
    assert held.returncode == 0, held.stderr
    assert time.monotonic() - started >= 1.0
    assert "slow (50 ms, 1% loss) on fa-a" in held.stderr and "cleared after" in held.stderr
    assert fresh.provider.link_state(fresh.spec, "fa-a").mode == "pass"


def test_the_cli_names_bad_input_in_one_line(fresh: Local, cli, monkeypatch):
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(fresh.root / "state"))
    for args, says in [
        (("fault", "melt", "fa-a"), "'melt' is not a fault action"),
        (("fault", "stop", "nowhere"), "has no cluster 'nowhere'"),
        (("fault", "stop", "fa-a", "--for", "soon"), "--for 'soon' is not a duration"),
        (("fault", "partition", "fa-a", "--for", "100000000h"), "at most 168h"),
        (("fault", "clear", "f-000000"), "no fault f-000000"),
    ]:
        result = cli(*args, "-f", str(fresh.file))
        assert result.code == 2, (args, result.err)
        assert says in result.err and "Traceback" not in result.err
    assert fresh.fleet.faults(live=True) == []  # refused before anything was injected


def test_a_stop_or_kill_that_up_undid_is_no_longer_live(fresh: Local):
    fresh.fleet.fault("stop", "fa-a")
    fresh.fleet.fault("kill", "hub")
    fresh.fleet.up(preflight=False, parallel=3, wait=30)  # starts both again
    listed = fresh.cli("fault", "list", "--live")
    assert listed.returncode == 0 and "no live faults" in listed.stderr, listed.stderr
    again = fresh.cli("fault", "stop", "fa-a")  # not refused with "clear it first"
    assert again.returncode == 0, again.stderr
    records = json.loads(fresh.cli("fault", "list", "-o", "json").stdout)
    undone = [r for r in records if r["state"] == "cleared" and r["action"] in ("stop", "kill")]
    assert [r["cluster"] for r in undone[-2:]] == ["fa-a", "faults-hub"]
    assert all("was started again" in r["cleared_by"] for r in undone[-2:])


def test_a_partition_outlives_up(fresh: Local):
    cut = fresh.fleet.fault("partition", "fa-b")
    fresh.fleet.up(preflight=False, parallel=3, wait=30)
    assert [r.id for r in fresh.fleet.faults(live=True)] == [cut.id]
    assert fresh.provider.link_state(fresh.spec, "fa-b").mode == "partition"


def test_down_while_faults_hold_leaves_nothing_behind(local: Local):
    """Last in this module: it takes the module's fleet down."""
    env = local
    until(lambda: set(env.health().values()) == {"Ready"}, 30, "every spoke Ready")
    pids = [env.pid(c.name) for c in env.spec.clusters]
    env.fleet.fault("pause", "fa-a")
    env.fleet.fault("partition", "fa-b")
    env.fleet.fault("kill", "hub")
    started = time.monotonic()
    env.fleet.down()
    assert time.monotonic() - started < 30  # nothing frozen waited out a stop's grace
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert env.fleet.faults(live=True) == []
