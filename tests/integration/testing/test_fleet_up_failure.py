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
