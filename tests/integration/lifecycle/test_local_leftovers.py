"""What a local fleet's pid files no longer lead to, and a spoke that runs unheard; found
from outside. A `down` killed half-way left the link proxies running and the fleet's data
in place, and the next `down` said "0 clusters deleted" and left them; a state directory
removed under a running fleet left its hub running, out of every command's sight (a new
`up` started a second one beside it); and `up` said "repaired" of a frozen spoke without
doing or checking anything. Now `down` stops what it finds by command line and removes the
state; `up` waits for the hub to hear the spoke and fails, naming it, when it does not."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from pathlib import Path

import pytest
from tests.integration.lifecycle.test_local_strays import fleet_file

from kindfleet import Fleet
from kindfleet.errors import KindfleetError
from kindfleet.fleetspec import from_path
from kindfleet.providers.local import LocalLayout, LocalProvider, processes

pytestmark = pytest.mark.slow


def ours(root) -> set[int]:
    return {h.pid for h in processes.left_in(root)}


@pytest.fixture
def fleet(tmp_path):
    name = f"left{uuid.uuid4().hex[:6]}"
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet_file(name, f"{name}-a"))
    state = tmp_path / "state"
    provider = LocalProvider(state, lost_after_seconds=3.0)
    running = Fleet(from_path(path), provider=provider, state_dir=state)
    running.up(preflight=False)
    yield running, LocalLayout(name, state)
    running.down()


def test_a_state_removed_under_a_running_fleet_is_taken_down_whole(fleet):
    running, layout = fleet
    before = ours(layout.root)
    assert len(before) >= 3  # the hub, the agent, its link proxy
    for pidfile in layout.root.glob("clusters/*/pid"):  # what a half-done `down` leaves
        pidfile.unlink()
    result = running.down()
    assert [o.notes for o in result.outcomes] == [("did not exist",)] * 2
    assert f"{len(before)} process(es) of the fleet that no pid file named" in result.tidied
    assert not ours(layout.root)
    assert not layout.root.exists()


def test_a_link_left_by_a_down_killed_half_way_is_stopped_with_the_data(fleet):
    running, layout = fleet
    for cluster in running.spec.clusters:  # a down killed after stopping the processes
        processes.stop(layout.pidfile(cluster.name), grace_seconds=2)
    left = ours(layout.root)
    assert left  # the spoke's link proxy
    result = running.down()
    assert not ours(layout.root) and not layout.root.exists(), result


def test_a_spoke_that_cannot_be_heard_is_named_with_why_not_called_repaired(fleet):
    running, layout = fleet
    spoke = running.spec.spokes[0]
    agent = processes.running(layout.pidfile(spoke.name))
    assert agent is not None
    os.kill(agent.pid, signal.SIGSTOP)
    try:
        _until_not_ready(running, spoke.name)
        with pytest.raises(KindfleetError, match="is stopped \\(SIGSTOP") as failed:
            running.up(preflight=False, wait=60.0)  # said at once, not after the wait
        assert f"{spoke.name} runs but" in str(failed.value) and "kill -CONT" in str(failed.value)
    finally:
        os.kill(agent.pid, signal.SIGCONT)
    result = running.up(preflight=False)  # heard again once it runs: repaired, truly
    assert {o.name: o.action for o in result.outcomes}[spoke.name] in ("repair", "keep")
    assert processes.alive(agent)  # never stopped: its runs go on
    with running.faulted("partition", spoke.name):
        _until_not_ready(running, spoke.name)
        with pytest.raises(KindfleetError, match="cut off from the hub by a partition fault"):
            running.up(preflight=False, wait=60.0)


def _until_not_ready(running: Fleet, name: str) -> None:
    with running.hub() as hub:  # the hub's word: not Ready (its lease ran out)
        _until(lambda: next(s for s in hub.spokes() if s.name == name).health != "Ready")


def _until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.2)


def test_a_cluster_that_fails_to_start_keeps_the_log_its_hint_names(tmp_path):
    """Found from outside: `up --wait 0.3` said "full log: .../clusters/<hub>/log", and
    `up`'s removal of what it began had removed that file: the one evidence gone."""
    name = f"late{uuid.uuid4().hex[:6]}"
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet_file(name, f"{name}-a"))
    state = tmp_path / "state"
    running = Fleet(from_path(path), provider=LocalProvider(state), state_dir=state)
    try:
        with pytest.raises(KindfleetError) as caught:
            running.up(preflight=False, wait=0.01)
        text = f"{caught.value.message}\n{caught.value.hint}"
        named = re.search(r"full log: (\S+)", text)
        assert named is not None, text
        kept = Path(named.group(1))
        assert kept.is_file() and kept.stat().st_mode & 0o777 == 0o600, text
        assert not kept.is_relative_to(LocalLayout(name, state).root)  # beside, not in it
        assert not LocalLayout(name, state).dir(f"{name}-hub").exists()  # removed, as before
    finally:
        running.down()
