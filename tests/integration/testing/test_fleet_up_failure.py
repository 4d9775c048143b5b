"""`fleet_up` (the pytest plugin's session fleet) takes down what a failed `up` brought up:
a session whose fleet failed to start left its hub running (seen for 40 minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kindfleet.errors import KindfleetError
from kindfleet.providers.local import processes
from kindfleet.testing import fleet_up

FLEET = """
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: halfway
provider: local
spokes: 1
"""


def test_a_fleet_that_fails_to_come_up_is_taken_down(tmp_path: Path):
    state = tmp_path / "state"
    clusters = state / "halfway" / "clusters"
    clusters.mkdir(parents=True)
    (clusters / "halfway-spoke1").write_text("in the way")  # the spoke cannot have its directory
    hub_pid = clusters / "halfway-hub" / "pid"
    try:
        with (
            pytest.raises(KindfleetError, match="halfway-spoke1"),
            fleet_up(FLEET, state_dir=state),
        ):
            pass
        assert processes.running(hub_pid) is None  # the hub that did come up is down again
    finally:
        processes.stop(hub_pid, grace_seconds=2)  # whatever the outcome: nothing left


def test_up_names_a_file_in_the_way_and_what_to_do(cli, tmp_path: Path, monkeypatch):
    """It said "xbroken-spoke1: unexpected FileExistsError: [Errno 17] File exists: ..."."""
    state = tmp_path / "state"
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(state))
    clusters = state / "halfway" / "clusters"
    clusters.mkdir(parents=True)
    (clusters / "halfway-spoke1").write_text("in the way")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    try:
        result = cli("up", "-f", str(fleet))
        assert result.code != 0
        assert f"a file is in the way of {clusters / 'halfway-spoke1'}" in result.err
        assert "unexpected" not in result.err
    finally:
        (clusters / "halfway-spoke1").unlink()
        cli("down", "-f", str(fleet))
