"""The platform's failure drills, for real (processes, HTTP, SQLite, kill -9), as thin
calls of the `kindfleet check` suites: the user's command and these tests prove the same
thing. The fleet is the drill fixture's (three spokes, a 3 s loss window).

- a spoke killed, or cut off, while it runs work: re-routed, nothing lost, never two
  runs at once (a cut-off copy fenced and stopped when it reconnects);
- the hub down for longer than the loss window: spokes keep working, every report
  arrives once, no mass kill when it returns;
- the hub killed under load: no accepted workload lost, none ran twice;
- comms, routing, telemetry and isolation on the same fleet.
"""

from __future__ import annotations

import pytest
from tests.integration.platform.conftest import LOST_AFTER, Drill

pytestmark = pytest.mark.slow


def _passes(drill: Drill, *suites: str) -> dict[str, dict[str, float]]:
    report = drill.fleet.check(list(suites), lost_after=LOST_AFTER, timeout=90)
    failed = {r.id: r.message for r in report.results if not r.ok}
    assert not failed, failed
    return {r.id: r.figures for r in report.results}


def test_spoke_killed_or_cut_off_is_rerouted_and_nothing_runs_twice(drill: Drill):
    figures = _passes(drill, "failover/spoke-kill", "failover/spoke-partition")
    kill = figures["failover/spoke-kill"]
    assert kill["lost"] == 0 and kill["overlap_s"] == 0
    assert 0 < kill["loss_to_reroute_s"] < LOST_AFTER + 30


def test_hub_outage_and_hub_kill_under_load_lose_nothing(drill: Drill):
    figures = _passes(drill, "failover/hub-outage", "failover/hub-kill-under-load")
    assert figures["failover/hub-kill-under-load"]["duplicated"] == 0


def test_comms_routing_telemetry_isolation(drill: Drill):
    figures = _passes(drill, "comms", "routing", "telemetry", "isolation")
    assert figures["comms/spokes-registered"]["spokes"] == 3


def test_a_ctrl_c_while_the_drill_holds_the_hub_down_brings_it_back(drill: Drill, monkeypatch):
    """hub-kill-under-load kills the hub and holds it down 1.5 s: a Ctrl-C then must not
    leave the user's fleet without its hub (the fault held until cleared by hand)."""
    import time
    from types import SimpleNamespace

    from kindfleet.checks import failover

    def sleep(seconds: float) -> None:
        if seconds == 1.5:  # the hub's 1.5 s down
            raise KeyboardInterrupt
        time.sleep(seconds)

    clock = SimpleNamespace(sleep=sleep, time=time.time, monotonic=time.monotonic)
    monkeypatch.setattr(failover, "time", clock)
    with pytest.raises(KeyboardInterrupt):
        drill.fleet.check(["failover/hub-kill-under-load"], lost_after=LOST_AFTER, timeout=90)
    assert drill.fleet.faults(live=True) == []
    (hub,) = [c for c in drill.fleet.status().clusters if c.role == "hub"]
    assert hub.ready, hub  # started again and serving (its spokes rejoin in their time)
