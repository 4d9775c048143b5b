"""Down's parallel deleters remove a fleet's tree once, and what a killed down left aside
goes with the next one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from kindfleet.providers.local import _discard


def _tree(root: Path, runs: int = 200) -> None:
    for i in range(runs):
        run = root / "spoke1" / "agent" / "runs" / f"wl-{i}-g1"
        (run / "outputs").mkdir(parents=True)
        (run / "stdout.log").write_text("x")


def test_deleters_at_the_same_time_leave_nothing_behind(tmp_path):
    root = tmp_path / "platform"
    _tree(root)
    start = threading.Barrier(6)

    def deleter() -> None:
        start.wait()
        _discard(root)

    threads = [threading.Thread(target=deleter) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert list(tmp_path.iterdir()) == []


def test_what_a_killed_down_left_aside_goes_with_the_next_one(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    left = tmp_path / f".platform.deleting-{dead}-1"
    _tree(left, runs=3)
    busy = tmp_path / f".platform.deleting-{os.getpid()}-1"  # a live deleter's: not ours
    busy.mkdir()
    other = tmp_path / ".other.deleting-1-1"  # another fleet's
    other.mkdir()
    odd = tmp_path / ".platform.deleting-x-y"  # not a name down gives: left alone
    odd.mkdir()
    root = tmp_path / "platform"
    _tree(root, runs=3)
    _discard(root)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([busy.name, other.name, odd.name])


def test_a_tree_a_run_nested_thousands_deep_does_not_stop_down(tmp_path):
    root = tmp_path / "platform"
    fd = os.open(root.parent, os.O_RDONLY)
    os.mkdir(root.name, dir_fd=fd)
    for name in [root.name, *["d"] * 3000]:
        inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
        os.mkdir("d", dir_fd=fd)
    os.close(fd)
    _discard(root)  # shutil.rmtree raised RecursionError here
    assert list(tmp_path.iterdir()) == []
