"""Old run directories are removed, and a generation whose directory is gone still never
runs twice: the run manager and the pruner over a real journal, with real processes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from agent_unit_helpers import py
from runmanager_helpers import SLEEP, assignment, close, events, manager, settled, until

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.agent import loop, prune
from kindfleet.platform.agent.prune import TRASH, Pruner
from kindfleet.platform.agent.runs import RunManager

RETENTION = 100.0


def _age(run_dir: Path, seconds: float) -> None:
    """Make a run directory and its files look unchanged for `seconds`."""
    then = time.time() - seconds
    for path in [*run_dir.iterdir(), run_dir]:
        os.utime(path, (then, then), follow_symlinks=False)


async def _ended_and_acknowledged(m: RunManager, workload: str, spec) -> None:
    await m.take([assignment(workload, 1, spec)])
    await until(lambda: f"{workload}-g1" in m.done)
    await settled(m)
    await m.acked(m.records.last_seq())
    assert not m.holds(f"{workload}-g1")


async def test_an_old_run_directory_goes_and_its_generation_never_runs_again(settings, tmp_path):
    ran = tmp_path / "ran"
    once = py(f"open({str(ran)!r}, 'a').write('ran\\n')")
    runs = settings.runs_dir
    m = manager(settings)
    try:
        await _ended_and_acknowledged(m, "w1", once)
        await _ended_and_acknowledged(m, "young", py("pass"))
        await m.take([assignment("long", 1, SLEEP)])
        await until(lambda: "long-g1" in m.runs and m.running == 1)
        for key in ("w1-g1", "long-g1"):
            _age(runs / key, 2 * RETENTION)
        (runs / TRASH / "left-g1").mkdir(parents=True)  # a crashed pass's leftovers

        pruner = Pruner(runs, RETENTION, m.records, m.holds)
        assert await pruner.run_once() == 1
        assert sorted(p.name for p in runs.iterdir()) == [TRASH, "long-g1", "young-g1"]
        assert list((runs / TRASH).iterdir()) == []

        # The hub hands the same generation over again (its store restored from a backup):
        # refused, as an existing directory would have refused it.
        await m.take([assignment("w1", 1, once)])
        await until(lambda: "w1-g1" in m.done)
        assert events(m)[-1] == ("w1", 1, "failed", "AlreadyRan")
        assert ran.read_text() == "ran\n"
        assert not (runs / "w1-g1").exists()
    finally:
        await close(m)


async def test_a_run_held_again_between_the_scan_and_the_removal_keeps_its_directory(settings):
    m = manager(settings)
    try:
        await _ended_and_acknowledged(m, "w1", py("pass"))
        _age(settings.runs_dir / "w1-g1", 2 * RETENTION)
        asked: list[str] = []

        def held(key: str) -> bool:  # free when the pass looks, taken by the time it removes
            asked.append(key)
            return len(asked) > 1

        assert await Pruner(settings.runs_dir, RETENTION, m.records, held).run_once() == 0
        assert asked == ["w1-g1", "w1-g1"]
        assert (settings.runs_dir / "w1-g1").is_dir()
    finally:
        await close(m)


async def test_what_a_run_links_to_outside_its_directory_is_left_alone(settings, tmp_path):
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "data").write_text("precious")
    runs = settings.runs_dir
    m = manager(settings)
    try:
        code = f"import os; os.symlink({str(outside)!r}, os.environ['KINDFLEET_OUTPUT_DIR'] + '/x')"
        await _ended_and_acknowledged(m, "w1", py(code))
        (runs / TRASH).mkdir()
        os.symlink(outside, runs / TRASH / "stray")  # a link left in the trash, too
        _age(runs / "w1-g1", 2 * RETENTION)
        assert await Pruner(runs, RETENTION, m.records, m.holds).run_once() == 1
        assert not (runs / "w1-g1").exists()
        assert list((runs / TRASH).iterdir()) == []
        assert (outside / "keep" / "data").read_text() == "precious"
    finally:
        await close(m)


async def test_a_runs_directory_swapped_for_a_link_is_not_pruned_through(settings, tmp_path):
    """Found from outside: a run reached its agent's `runs` directory ("$HOME/..") and put a
    link to elsewhere in its place; a day later the pruner removed every old directory
    there, as if they were runs. The pruner prunes only the directory the agent started
    with, and the agent does not start on a link there."""
    outside = tmp_path / "outside"
    for name in ("project-a", "project-b"):
        (outside / name).mkdir(parents=True)
        (outside / name / "data").write_text("precious")
        _age(outside / name, 2 * RETENTION)
    runs = settings.runs_dir
    m = manager(settings)
    try:
        pruner = Pruner(runs, RETENTION, m.records, m.holds)
        swap = f"import os; os.chdir('../..'); os.rename('runs', 'runs.real'); os.symlink({str(outside)!r}, 'runs')"
        await _ended_and_acknowledged(m, "w1", py(swap))
        assert (runs.parent / "runs").is_symlink()
        assert await pruner.run_once() == 0
        assert sorted(p.name for p in outside.iterdir()) == ["project-a", "project-b"]
        assert (outside / "project-a" / "data").read_text() == "precious"
        await m.take([assignment("w2", 1, py("pass"))])  # the next run is not made there
        await until(lambda: "w2-g1" in m.done)
        assert events(m)[-1][:3] == ("w2", 1, "failed")
        assert sorted(p.name for p in outside.iterdir()) == ["project-a", "project-b"]
    finally:
        await close(m)
    outside.chmod(0o755)
    with pytest.raises(PrerequisiteError, match="is a symbolic link"):
        loop._prepare(settings)  # the next start of the agent
    assert outside.stat().st_mode & 0o777 == 0o755  # not made the agent's (chmod 0700)


async def test_a_run_that_dated_its_files_in_the_future_is_pruned_all_the_same(settings):
    """Found from outside: `touch -d 2100-01-01 stdout.log` kept the run's directory for
    ever. When a file changed is read from its ctime too, which a run cannot set."""
    runs = settings.runs_dir
    m = manager(settings)
    try:
        await _ended_and_acknowledged(m, "w1", py("pass"))
        future = time.time() + 75 * 365 * 86400
        os.utime(runs / "w1-g1" / "stdout.log", (future, future))
        pruner = Pruner(runs, 0.5, m.records, m.holds)
        await asyncio.sleep(1.0)  # older than the retention by its ctime
        assert await pruner.run_once() == 1
        assert not (runs / "w1-g1").exists()
    finally:
        await close(m)


async def test_a_backlog_is_taken_a_pass_at_a_time_and_said_to_be_one(settings, monkeypatch):
    monkeypatch.setattr(prune, "PER_PASS", 2)
    runs = settings.runs_dir
    for i in range(5):
        (runs / f"old{i}-g1").mkdir()
        _age(runs / f"old{i}-g1", 2 * RETENTION)
    m = manager(settings)
    try:
        pruner = Pruner(runs, RETENTION, m.records, m.holds)
        passes = []
        while not passes or pruner.behind:
            passes.append(await pruner.run_once())
        assert passes == [2, 2, 1]
        assert sorted(p.name for p in runs.iterdir()) == [TRASH]
    finally:
        await close(m)
