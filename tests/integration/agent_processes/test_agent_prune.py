"""Old run directories are removed, and a generation whose directory is gone still never
runs twice: the run manager and the pruner over a real journal, with real processes."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from agent_unit_helpers import py
from runmanager_helpers import SLEEP, assignment, close, events, manager, settled, until

from kindfleet.platform.agent import prune
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


NOBODY = 65534


def _removed_as_the_agents_own_user(top: Path) -> bool:
    """`prune.remove(top)` in a forked child that drops to an unprivileged user when the
    suite runs as root (root is refused nothing); whether `top` is gone after."""
    pid = os.fork()
    if pid == 0:  # the child: nothing but the removal, then out
        code = 2
        try:
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            prune.remove(str(top))
            code = 1 if os.path.lexists(top) else 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0 and not top.exists()


def _owned(path: Path | str, dir_fd: int | None = None) -> None:
    """Given to the unprivileged user the removal runs as (when the suite runs as root)."""
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY, dir_fd=dir_fd)


def test_what_a_run_made_read_only_or_unreadable_is_removed_all_the_same():
    base = Path(tempfile.mkdtemp(prefix="kf-prune-"))
    try:
        top = base / "w1-g1"
        cache = top / "outputs" / "mod"  # read-only, as Go's module cache
        cache.mkdir(parents=True)
        (cache / "go.mod").write_text("module x\n")
        sealed = top / "outputs" / "sealed" / "deeper"  # unreadable, twice over
        sealed.mkdir(parents=True)
        (sealed / "data").write_text("x")
        for path in [base, *base.rglob("*")]:
            _owned(path)
        cache.chmod(0o555)
        sealed.chmod(0)
        sealed.parent.chmod(0)
        assert _removed_as_the_agents_own_user(top)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_tree_deeper_than_rmtree_goes_is_removed_too():
    """Thousands of nested directories (rmtree recursed past Python's limit and raised),
    with files on every level, one level read-only and one unreadable."""
    base = Path(tempfile.mkdtemp(prefix="kf-prune-"))
    try:
        top = base / "w1-g1"
        top.mkdir()
        _owned(base)
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        _owned(top)
        for level in range(3000):
            os.close(os.open("file", os.O_CREAT | os.O_WRONLY, 0o400, dir_fd=fd))
            os.mkdir("d", dir_fd=fd)
            _owned("file", fd)
            _owned("d", fd)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            if level in (1000, 2000):
                os.fchmod(fd, 0o555 if level == 1000 else 0)
            os.close(fd)
            fd = inner
        os.close(fd)
        assert _removed_as_the_agents_own_user(top)
    finally:
        prune.remove(str(base))  # rmtree alone would raise on what a failure left
