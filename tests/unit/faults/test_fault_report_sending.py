"""Telling the hub of faults is best effort: a fault command never fails because the hub
was not there to hear it (the fault may be what stopped it) or the records are unreadable."""

from __future__ import annotations

import time

from kindfleet.fleet import Fleet
from kindfleet.fleetspec import from_text
from kindfleet.providers.local import LocalProvider

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: quiet
provider: local
spokes:
  - {name: q-a}
"""


def test_no_running_hub_and_unreadable_records_are_not_failures(tmp_path):
    state = tmp_path / "state"
    fleet = Fleet(from_text(FLEET), provider=LocalProvider(state), state_dir=state)
    started = time.monotonic()
    assert fleet.report_faults() is False  # the fleet is not up: no hub to tell
    assert time.monotonic() - started < 2.0  # and no waiting for one
    (state / "quiet").mkdir(parents=True)
    (state / "quiet" / "faults.json").write_text("{not json")
    assert fleet.report_faults() is False
