"""A real agent whose state directory is on a disk that fills up (a tmpfs of a few MB,
filled by its own runs' logs): it stops on SIGTERM, starts again on the full disk and stops
again while it recovers, and once space is freed every workload ends, reported once, none
run twice.

Found from outside, on this very setup: every commit failed on the full disk and each
change failed with it; the runs that ended were never reported (the hub saw them Running
for ever, also once space was freed). Needs root (to mount a tmpfs)."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from agent_it_helpers import AgentProc, spec, wait_until
from tests.smalldisk import fill_inodes, grow, small_disk

RUNS = 12


@pytest.fixture
def disk(tmp_path: Path):
    with small_disk(tmp_path / "disk") as path:
        yield path


def test_an_agent_on_a_full_disk_stops_restarts_and_reports_every_run_once(
    hub, disk: Path, tmp_path: Path
):
    marks = tmp_path / "marks"
    marks.mkdir()
    agent = AgentProc(tmp_path, hub, "spoke1", [])
    agent.state_dir = disk / "state"  # its log and token stay on the big disk
    try:
        _fill_stop_restart_free(agent, hub, disk, marks)
    finally:
        agent.cleanup()


def _fill_stop_restart_free(agent: AgentProc, hub, disk: Path, marks: Path) -> None:
    agent.start()
    mark = f"echo ran >> {marks}/$KINDFLEET_WORKLOAD_ID-$KINDFLEET_GENERATION"
    wids = [
        hub.double.run(spec("sh", "-c", f"{mark}; head -c 400000 /dev/zero"), "spoke1")
        for _ in range(RUNS)
    ]
    wait_until(
        lambda: "the agent's database cannot be written" in agent.log(),
        what="the agent to find its disk full",
    )
    offered = lambda: hub.double.spokes["spoke1"].capacity["cpu_millis"]  # noqa: E731
    wait_until(lambda: offered() == 0, what="the spoke to offer no capacity meanwhile")
    assert agent.terminate(timeout=60) == 0  # a stop is not held by a disk that stays full

    agent.start()  # on the full disk still: its recovery waits for the disk
    wait_until(
        lambda: agent.log().count("the agent's database cannot be written") == 2,
        what="the restarted agent to find its disk full",
    )
    assert agent.terminate(timeout=60) == 0  # also while it recovers
    agent.start()
    grow(disk)
    wait_until(
        lambda: all(hub.double.workload(w).state in ("Succeeded", "Failed") for w in wids),
        timeout=60,
        what="every workload to end",
    )
    assert agent.proc is not None and agent.proc.poll() is None
    wait_until(lambda: offered() > 0, what="its capacity offered again")
    ran = collections.Counter(p.read_text().count("ran") for p in marks.iterdir())
    outcomes = {w: (hub.double.workload(w).state, hub.double.workload(w).reason) for w in wids}
    assert ran == {1: RUNS}, outcomes  # each generation started once, none twice
    ends = [e for e in hub.double.status_events() if e.type.value in ("succeeded", "failed")]
    assert sorted(e.workload for e in ends) == sorted(wids)  # one terminal report each
    assert "Traceback" not in agent.log()  # a full disk is said, not crashed on
    # (reports sent again after a restart, their acknowledgement not written, are fine: the
    # hub applies each seq once)


def test_a_run_the_disk_has_no_room_for_waits_unstarted_on_a_spoke_that_offers_nothing(
    hub, tmp_path: Path
):
    """A disk that takes no new file (out of inodes: the run's directory cannot be made):
    the run is neither failed nor started, the spoke offers the hub no capacity meanwhile
    (work placed there would only wait), and once room is made the run starts, once."""
    marker = tmp_path / "ran"
    with small_disk(tmp_path / "disk", "8m", inodes=64) as disk:
        agent = AgentProc(tmp_path, hub, "spoke1", [])
        agent.state_dir = disk / "state"
        try:
            agent.start()
            offered = lambda: (  # noqa: E731
                "spoke1" in hub.double.spokes and hub.double.spokes["spoke1"].capacity["cpu_millis"]
            )
            wait_until(offered, what="the spoke to join and offer its capacity")
            # Its database has taken a write (a telemetry sample, reported): the files it
            # writes through exist. On a starved CPU the first write came after the disk
            # was full: the database refused the accept and the run was never tried.
            wait_until(hub.double.telemetry, what="the agent's first report")
            fillers = fill_inodes(disk)
            wid = hub.double.run(spec("sh", "-c", f"echo ran >> {marker}"), "spoke1")
            try:
                wait_until(lambda: "the disk has no room for it" in agent.log(), what="no room")
            except AssertionError as exc:  # what the agent said instead
                raise AssertionError(f"{exc}; the agent's log:\n{agent.log()[-4000:]}") from None
            wait_until(lambda: offered() == 0, what="the spoke to offer no capacity meanwhile")
            assert hub.double.workload(wid).state not in ("Succeeded", "Failed")
            assert not marker.exists()

            for filler in fillers:
                filler.unlink()
            wait_until(lambda: hub.double.workload(wid).state == "Succeeded", what="its run")
            assert marker.read_text() == "ran\n"
            wait_until(offered, what="its capacity offered again")
            assert "Traceback" not in agent.log()
        finally:
            agent.cleanup()
