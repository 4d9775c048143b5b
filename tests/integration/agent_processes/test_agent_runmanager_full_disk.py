"""A spoke whose disk fills up: the run manager over a journal whose database may not grow
(SQLITE_FULL, as on a full disk), with real processes.

Found from outside: an agent on a 4 MB tmpfs, runs writing big logs. Every commit then
failed and each change failed with it, so a run that ended had no terminal record and its
supervisor gave up: the hub saw 40 workloads Running for ever, even once space was freed.
Now the disk's refusal holds the commit until the disk takes it: nothing starts before its
accept is durable, and an ended run is reported once, when space returns."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_unit_helpers import Disk, py
from runmanager_helpers import assignment as _a
from runmanager_helpers import close as _close
from runmanager_helpers import events as _events
from runmanager_helpers import settled as _settled
from runmanager_helpers import until as _until
from tests.smalldisk import fill_inodes, small_disk

from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.executors.process.executor import ProcessExecutor
from kindfleet.platform.agent.journal import Journal
from kindfleet.platform.agent.records import Records
from kindfleet.platform.agent.runs import RunManager
from kindfleet.platform.agent.settings import AgentSettings


def _manager(settings: AgentSettings, disk: Disk) -> RunManager:
    db = AgentDb(settings.db_path)
    records = Records(db, Journal(db.path, disk.batch), reported=lambda: None)
    return RunManager(settings, ProcessExecutor(settings.state_dir), records)


def _waits_for(gate: Path) -> str:
    return f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.01)"


def _marks(marker: Path) -> str:
    return f"open({str(marker)!r}, 'a').write('ran\\n')"


async def test_runs_that_end_or_arrive_while_the_disk_is_full_go_on_once_it_is_not(
    settings, tmp_path: Path
):
    disk = Disk()
    m = _manager(settings, disk)
    gate, marker = tmp_path / "gate", tmp_path / "w2-ran"
    await m.take([_a("w1", 1, py(_waits_for(gate)))])
    await _until(lambda: ("w1", 1, "started", None) in _events(m))  # started is on disk
    disk.fill(settings.db_path)
    gate.touch()  # w1 ends now: its end cannot be written
    await m.take([_a("w2", 1, py(_marks(marker)))])  # nor can w2's accept
    refused = disk.attempts + 5
    await _until(lambda: disk.attempts >= refused)  # the writer keeps trying
    assert "w1-g1" not in m.done
    assert [e for e in _events(m) if e[0] == "w2"] == []
    assert not marker.exists()  # never started before its accept is durable

    disk.free()
    await _until(lambda: "w1-g1" in m.done and "w2-g1" in m.done)
    await _settled(m)
    for workload in ("w1", "w2"):
        assert [t for w, _, t, _ in _events(m) if w == workload] == [
            "accepted",
            "started",
            "succeeded",
        ]
    assert marker.read_text() == "ran\n"
    await _close(m)


@pytest.mark.parametrize("room", [0, 2], ids=["no-directory", "no-files"])
async def test_a_run_the_disk_has_no_room_for_waits_unstarted_and_starts_once_there_is(
    settings, tmp_path: Path, room: int
):
    """Found from outside (a CI run of the full-disk agent test): a run whose start lost
    the race with a filling disk was reported Failed (StartFailed) for good, while its
    neighbours, accepted a moment later, ran once space was freed. `room`: how many
    files the disk still takes (its directory and outputs/, not its log files)."""
    settings.runs_dir.rmdir()
    marker = tmp_path / "w1-ran"
    with small_disk(settings.runs_dir, "4m", inodes=64) as runs:
        fillers = fill_inodes(runs)
        for filler in fillers[:room]:
            filler.unlink()
        m = _manager(settings, Disk())
        await m.take([_a("w1", 1, py(_marks(marker)))])
        await _until(lambda: m.waiting_for_room or "w1-g1" in m.done)
        await _settled(m)
        assert [t for _, _, t, _ in _events(m)] == ["accepted"]  # not failed, not started
        assert not marker.exists()
        assert not (runs / "w1-g1").exists()  # what was made of it went: no "ran before"

        for filler in fillers[room:]:
            filler.unlink()
        await _until(lambda: "w1-g1" in m.done)
        await _settled(m)
        assert [t for _, _, t, _ in _events(m)] == ["accepted", "started", "succeeded"]
        assert marker.read_text() == "ran\n"
        assert not m.waiting_for_room
        await _close(m)


async def test_a_run_waiting_for_room_is_cancelled_at_once(settings, tmp_path: Path):
    settings.runs_dir.rmdir()
    with small_disk(settings.runs_dir, "4m", inodes=64) as runs:
        fill_inodes(runs)
        m = _manager(settings, Disk())
        await m.take([_a("w1", 1, py(_marks(tmp_path / "ran")))])
        await _until(lambda: m.waiting_for_room or "w1-g1" in m.done)
        await m.take([_a("w1", 1, cancel=True)])
        await _until(lambda: "w1-g1" in m.done)
        await _settled(m)
        assert [t for _, _, t, _ in _events(m)] == ["accepted", "cancelled"]
        assert not m.waiting_for_room
        assert not (tmp_path / "ran").exists()
        await _close(m)
