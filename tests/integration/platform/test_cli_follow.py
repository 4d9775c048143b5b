"""`kindfleet logs ID --follow` against a real local fleet, as a person runs it: the lines of
a run as it writes them, across a rotation of its log, and an end when the run ends."""

from __future__ import annotations

import os
import re
import selectors
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

TICKER = (  # once it is followed: 130 ticks of 1 KiB over 4 s: the keeper, which looks
    # at a quiet log every 2 s, finds it past its 16Ki and rotates it at least once
    "import os, sys, time\n"
    "print('hello', flush=True)\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.05)\n"
    "for i in range(130):\n"
    "    print(f'tick {i:03d}', 'x' * 1024, flush=True)\n"
    "    time.sleep(0.03)\n"
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
            assert _first_line(follower) == "hello\n"  # followed: now let it talk
            go.touch()
            rest, err = follower.communicate(timeout=120)  # it ends with the run
        finally:
            follower.kill()
        assert follower.returncode == 0, err
        assert hub.get(wid).state == "Succeeded"
        run = state / "follow" / "clusters" / "follow-spoke" / "agent" / "runs" / f"{wid}-g1"
        assert (run / "stdout.log.1").exists()  # it was rotated while followed
        lines = rest.splitlines()
        assert all(re.fullmatch(r"tick \d{3} x{1024}", line) for line in lines)  # whole
        ticks = [int(line.split()[1]) for line in lines]
        assert ticks == sorted(set(ticks))  # in order, none twice
        assert len(ticks) >= 65  # most of them: only what went to a copy between looks is not
        tail = _kindfleet("logs", wid, "--tail", "2", state=state, fleet=fleet)
        out, _ = tail.communicate(timeout=120)
        assert [line.split()[1] for line in out.splitlines()] == ["128", "129"]


def _first_line(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """Its first line, or a failure after `timeout` (a follower that never prints must not
    hang the suite)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout), f"nothing from the follower in {timeout} s"
    return proc.stdout.readline()
