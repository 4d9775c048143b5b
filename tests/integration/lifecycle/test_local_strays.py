"""A local fleet's spokes that its fleet file does not name: one removed from the file after
`up`, or brought up from another fleet file with the same name (the fleet's state is one,
by name). Found from outside: `up` of the second file took the first one's fleet over and
said nothing of its spokes, and `down` of it said "fleet local is down" while it removed
the state of those spokes under their running agents, which the user then had no way to
reach or stop. Now `up` and `status` name them, and `down` stops them with the rest."""

from __future__ import annotations

import uuid

import pytest
from tests.integration.lifecycle.test_logs_export_local import FLEET as LOGS_FLEET

from kindfleet import Fleet
from kindfleet.lifecycle.results import NOT_IN_FILE
from kindfleet.providers.local import LocalLayout, processes

pytestmark = pytest.mark.slow

# The logs test's fleet (a hub, its spokes), with spokes of our choosing.
FLEET = LOGS_FLEET.partition("spokes:\n")[0] + "spokes:\n{spokes}"
SPOKE = "  - name: {name}\n    capacity: {{cpu: 1, memory: 1Gi}}\n"


def fleet_file(name: str, *spokes: str) -> str:
    return FLEET.format(name=name, spokes="".join(SPOKE.format(name=s) for s in spokes))


def test_spokes_the_file_does_not_name_are_named_and_taken_down(tmp_path):
    name = f"stray{uuid.uuid4().hex[:6]}"
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(fleet_file(name, f"{name}-a", f"{name}-b"))
    second.write_text(fleet_file(name, f"{name}-a", f"{name}-c"))
    state = tmp_path / "state"
    Fleet.from_path(first, state_dir=state).up(preflight=False)
    layout = LocalLayout(name, state)
    stray = processes.running(layout.pidfile(f"{name}-b"))
    assert stray is not None
    fleet = Fleet.from_path(second, state_dir=state)
    try:
        result = fleet.up(preflight=False)
        (warning,) = result.warnings
        assert f"fleet {name} also has {name}-b, which this fleet file does not name" in warning
        assert "`kindfleet down` removes it" in warning
        assert [o.action for o in result.outcomes] == ["keep", "keep", "create"]  # b is kept
        assert processes.alive(stray)
        assert fleet.status().warnings == (warning,)

        down = fleet.down()
        removed = {o.name: o.notes for o in down.outcomes}
        assert removed == {
            f"{name}-hub": (),
            f"{name}-a": (),
            f"{name}-c": (),
            f"{name}-b": (NOT_IN_FILE,),
        }
        assert not processes.alive(stray)
        assert not layout.root.exists()
    finally:
        for path in (second, first):
            Fleet.from_path(path, state_dir=state).down()


def test_a_spoke_removed_from_the_file_is_stopped_with_the_fleet(tmp_path):
    name = f"stray{uuid.uuid4().hex[:6]}"
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet_file(name, f"{name}-a", f"{name}-b"))
    state = tmp_path / "state"
    Fleet.from_path(path, state_dir=state).up(preflight=False)
    layout = LocalLayout(name, state)
    handles = [processes.running(layout.pidfile(c)) for c in (f"{name}-hub", f"{name}-b")]
    try:
        path.write_text(fleet_file(name, f"{name}-a"))
        fleet = Fleet.from_path(path, state_dir=state)
        assert f"also has {name}-b," in fleet.status().warnings[0]
        fleet.down(cluster=f"{name}-hub")  # the hub's delete takes the whole fleet's state
        assert all(h is not None for h in handles)
        assert not any(processes.alive(h) for h in handles), handles
        assert not layout.root.exists()
    finally:
        Fleet.from_path(path, state_dir=state).down()
