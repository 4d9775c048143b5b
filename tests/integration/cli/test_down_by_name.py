"""A running fleet whose file was then edited into something invalid, or deleted, still
comes down: `kindfleet down --name NAME` goes by the file as it was at `up`, and a `down`
that cannot read its file says so. A real local fleet, the CLI as a process."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FLEET = """
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: byname
provider: local
spokes:
  - name: byname-spoke
"""


def _kindfleet(*args: str, cwd: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kindfleet", *args],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "KINDFLEET_STATE_DIR": str(state), "NO_COLOR": "1"},
    )  # fmt: skip


def _hub_pid(state: Path) -> int | None:
    """The hub's process, if one runs: what `down` must stop."""
    found = subprocess.run(
        ["pgrep", "-f", f"{state}/byname/"], capture_output=True, text=True, check=False
    )
    pids = [int(p) for p in found.stdout.split()]
    return pids[0] if pids else None


def test_a_fleet_whose_file_went_bad_comes_down_by_name(tmp_path: Path) -> None:
    state = tmp_path / "state"
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    up = _kindfleet("up", cwd=tmp_path, state=state)
    assert up.returncode == 0, up.stderr
    try:
        kept = state / "byname" / "fleetfile.json"
        assert kept.stat().st_mode & 0o777 == 0o600
        assert _hub_pid(state) is not None

        fleet.write_text(FLEET + "bogusField: 1\n")  # an edit half done
        refused = _kindfleet("down", cwd=tmp_path, state=state)
        assert refused.returncode == 2
        assert "bogusField" in refused.stderr
        assert "kindfleet down --name NAME` (byname)" in refused.stderr
        assert _hub_pid(state) is not None  # nothing was touched

        fleet.unlink()
        gone = _kindfleet("status", cwd=tmp_path, state=state)
        assert gone.returncode != 0

        both = _kindfleet("down", "--name", "byname", "-f", str(fleet), cwd=tmp_path, state=state)
        assert both.returncode == 2 and "not both" in both.stderr
        unknown = _kindfleet("down", "--name", "nope", cwd=tmp_path, state=state)
        assert unknown.returncode == 2 and "fleets that were: byname" in unknown.stderr

        bad_name = _kindfleet("down", "--name", "../byname", cwd=tmp_path, state=state)
        assert bad_name.returncode == 2 and "DNS-1123" in bad_name.stderr

        # A record changed by hand: said so, and nothing taken down in its stead.
        good = kept.read_text()
        kept.write_text("[1, 2]")
        corrupt = _kindfleet("down", "--name", "byname", cwd=tmp_path, state=state)
        assert corrupt.returncode == 2 and "cannot be read" in corrupt.stderr
        other = json.loads(good)
        other["data"] = base64.b64encode(FLEET.replace("byname", "other").encode()).decode()
        kept.write_text(json.dumps(other))
        swapped = _kindfleet("down", "--name", "byname", cwd=tmp_path, state=state)
        assert swapped.returncode == 2 and "is fleet 'other''s" in swapped.stderr
        assert _hub_pid(state) is not None
        kept.write_text(good)

        down = _kindfleet("down", "--name", "byname", cwd=tmp_path, state=state)
        assert down.returncode == 0, down.stderr
        assert "fleet byname is down" in down.stderr
        assert _hub_pid(state) is None
        assert not kept.exists()
    finally:
        fleet.write_text(FLEET)
        _kindfleet("down", cwd=tmp_path, state=state)


def test_a_fleet_file_from_a_pipe_is_read_once_and_kept_as_read(tmp_path: Path) -> None:
    """`up -f <(...)`: the record read the file again after the spec had, and blocked on
    a FIFO (holding the fleet's lock), or kept an empty file from a pipe."""
    from kindfleet.fleet import Fleet

    read, write = os.pipe()
    os.write(write, FLEET.encode())
    os.close(write)
    try:
        fleet = Fleet.from_path(f"/proc/self/fd/{read}", state_dir=tmp_path / "state")
    finally:
        os.close(read)
    assert fleet.name == "byname"
    assert fleet.source is not None and fleet.source[2] == FLEET.encode()
