"""A local spoke's labels edited in the fleet file: `status` shows what the spoke runs with
and how the file differs, `up` keeps it (making it anew would stop its work) and says so
with the commands that make it anew; then the hub places work by the new labels. It once
kept the spoke in silence ("kept 4"), `status` printing the file's labels, while the hub
went on with the old ones."""

from __future__ import annotations

import uuid

import pytest
from tests.integration.lifecycle.test_logs_export_local import FLEET as LOGS_FLEET

from kindfleet import Fleet

pytestmark = pytest.mark.slow

# The logs test's fleet (a hub, one spoke), its spoke labelled.
FLEET = LOGS_FLEET.replace("    capacity:", "    labels: {{tier: {tier}}}\n    capacity:")


def test_an_edited_spoke_is_named_kept_and_made_anew_when_asked(tmp_path):
    name = f"drift{uuid.uuid4().hex[:6]}"
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(name=name, tier="bronze"))
    Fleet.from_path(path, state_dir=tmp_path / "state").up(preflight=False)
    try:
        path.write_text(FLEET.format(name=name, tier="gold"))
        fleet = Fleet.from_path(path, state_dir=tmp_path / "state")
        (_, spoke) = fleet.status().clusters
        assert spoke.drift == "runs with labels tier=bronze, the file says tier=gold"
        assert spoke.nodes[0].labels == {"tier": "bronze"}  # what it runs with, not the file
        events = []
        result = fleet.up(preflight=False, progress=events.append)
        assert [o.action for o in result.outcomes] == ["keep", "keep"]
        (warned,) = [e for e in events if e.phase == "warn"]
        assert warned.cluster == f"{name}-a" and "tier=gold" in warned.message
        assert f"--cluster {name}-a`, then `up`" in warned.message
        fleet.down(cluster=f"{name}-a")
        fleet.up(preflight=False)
        with fleet.hub() as hub:
            (registered,) = hub.spokes()
        assert registered.labels == {"tier": "gold"}
        (_, spoke) = fleet.status().clusters
        assert spoke.drift == "" and spoke.nodes[0].labels == {"tier": "gold"}
    finally:
        Fleet.from_path(path, state_dir=tmp_path / "state").down()
