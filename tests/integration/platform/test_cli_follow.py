"""`kindfleet logs ID --follow` against a real local fleet, as a person runs it: the lines of
a run as it writes them, across a rotation of its log, and an end when the run ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kindfleet.testing import fleet_up

pytestmark = pytest.mark.slow

FLEET = """
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: follow
provider: local
spokes:
  - name: follow-spoke
    runs: {logMaxSize: 16Ki}
"""

TICKER = (  # once it is followed: 40 ticks, 20 ms apart, with 1 KiB each: two rotations
    "import os, sys, time\n"
    "print('hello', flush=True)\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.05)\n"
    "for i in range(40):\n"
    "    print(f'tick {i:02d}', 'x' * 1024, flush=True)\n"
    "    time.sleep(0.02)\n"
)


def _kindfleet(*args: str, state: Path, fleet: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kindfleet", *args, "-f", str(fleet)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KINDFLEET_STATE_DIR": str(state)},
    )


def test_follow_gives_the_lines_as_they_come_and_ends_with_the_run(tmp_path):
    state, fleet, go = tmp_path / "state", tmp_path / "fleet.yaml", tmp_path / "go"
    fleet.write_text(FLEET)
    with fleet_up(fleet, state_dir=state) as running, running.hub() as hub:
        command = [sys.executable, "-c", TICKER, str(go)]
        wid = hub.submit({"name": "ticker", "command": command}).workload.id
        follower = _kindfleet("logs", wid, "--follow", state=state, fleet=fleet)
        try:
            assert follower.stdout is not None
            assert follower.stdout.readline() == "hello\n"  # followed: now let it talk
            go.touch()
            rest, err = follower.communicate(timeout=120)  # it ends with the run
        finally:
            follower.kill()
        assert follower.returncode == 0, err
        assert hub.get(wid).state == "Succeeded"
        ticks = [line.split()[1] for line in rest.splitlines() if line]
        assert ticks[-1] == "39"  # to the end
        assert ticks == sorted(set(ticks))  # whole lines, in order; a rotation may skip some
        assert all(line.endswith("x" * 1024) for line in rest.splitlines())
        tail = _kindfleet("logs", wid, "--tail", "2", state=state, fleet=fleet)
        out, _ = tail.communicate(timeout=120)
        assert [line.split()[1] for line in out.splitlines()] == ["38", "39"]
