"""A local spoke's labels edited in the fleet file: `up` made the spoke anew, so the hub
places work by the labels the file says, and `status` shows what the spoke runs with.
It once kept the spoke ("kept 4") while the hub went on with the old labels."""

from __future__ import annotations

import uuid

import pytest
from tests.integration.lifecycle.test_logs_export_local import FLEET as LOGS_FLEET

from kindfleet import Fleet

pytestmark = pytest.mark.slow

# The logs test's fleet (a hub, one spoke), its spoke labelled.
FLEET = LOGS_FLEET.replace("    capacity:", "    labels: {{tier: {tier}}}\n    capacity:")


def test_an_edited_spoke_is_made_anew_and_the_hub_sees_its_new_labels(tmp_path):
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
        result = fleet.up(preflight=False)
        assert [(o.name, o.action) for o in result.outcomes] == [
            (f"{name}-hub", "keep"),
            (f"{name}-a", "recreate"),
        ]
        with fleet.hub() as hub:
            (registered,) = hub.spokes()
        assert registered.labels == {"tier": "gold"}
        (_, spoke) = fleet.status().clusters
        assert spoke.drift == "" and spoke.nodes[0].labels == {"tier": "gold"}
    finally:
        Fleet.from_path(path, state_dir=tmp_path / "state").down()
