"""What `down` stops of a local fleet it finds by command line: only kindfleet's own
processes (by what they run) with a path under the fleet's state, relative paths read from
their own directory; nothing that only mentions the path (a `grep`, a `less`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kindfleet.providers.local import processes

SLEEP = "import time; time.sleep(30)"


def spawn(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=cwd, start_new_session=True)


def test_only_our_processes_under_the_state_are_found_and_stopped(tmp_path):
    root = tmp_path / "state" / "f"
    (tmp_path / "state" / "f2").mkdir(parents=True)
    root.mkdir()
    ours_abs = spawn(
        [sys.executable, "-c", SLEEP + " # launcher import main", str(root / "x")], tmp_path
    )
    ours_rel = spawn(
        [sys.executable, "-c", SLEEP + " # launcher import main", "state/f/x"], tmp_path
    )
    strangers = [
        spawn([sys.executable, "-c", SLEEP, str(root / "x")], tmp_path),  # a python, not ours
        spawn(["sh", "-c", "sleep 30", "kindfleet.platform.hub", str(root / "x")], tmp_path),
        spawn(  # ours, another fleet's whose name begins as this one's
            [
                sys.executable,
                "-c",
                SLEEP + " # launcher import main",
                str(tmp_path / "state" / "f2" / "x"),
            ],
            tmp_path,
        ),
    ]
    try:
        found = {h.pid for h in processes.left_in(root)}
        assert found == {ours_abs.pid, ours_rel.pid}
        processes.stop_all(processes.left_in(root), grace_seconds=2)
        assert ours_abs.wait(5) is not None and ours_rel.wait(5) is not None
        assert all(p.poll() is None for p in strangers)  # untouched
    finally:
        for proc in (ours_abs, ours_rel, *strangers):
            proc.kill()
            proc.wait()
