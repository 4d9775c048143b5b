"""The pure parts: what `up` decides per cluster, and how progress reads."""

from kindfleet.lifecycle.events import Board, Event, plain_line
from kindfleet.lifecycle.plan import plan_up, waves


def test_plan(spec):
    plans = plan_up(spec.clusters, existing={"t-hub", "t-spoke1"}, healthy={"t-hub": True})
    assert [(p.cluster.name, p.action) for p in plans] == [
        ("t-hub", "keep"),
        ("t-spoke1", "repair"),
        ("t-spoke2", "create"),
        ("t-spoke3", "create"),
    ]
    assert {
        p.action for p in plan_up(spec.clusters, existing=set(), healthy={}, owns_clusters=False)
    } == {"check"}


def test_a_broken_cluster_is_made_anew_not_repaired(spec):
    broken = {"t-spoke1": "node containers missing: t-spoke1-worker"}
    plans = plan_up(spec.clusters, existing={"t-hub", "t-spoke1"}, healthy={"t-hub": True},
                    broken=broken)  # fmt: skip
    assert [(p.action, p.reason) for p in plans[:2]] == [
        ("keep", "exists and is ready"),
        ("recreate", "exists but node containers missing: t-spoke1-worker: made anew"),
    ]


def test_spokes_unheard_while_their_hub_was_down_rejoin_not_repair(spec):
    """Issue 14: after a hub restart, `up` said healthy spokes were "repaired"."""
    existing = {"t-spoke1", "t-spoke2", "t-spoke3"}  # the hub's process is gone
    plans = plan_up(spec.clusters, existing=existing, healthy={}, ready_through_hub=True)
    assert [p.action for p in plans] == ["create", "rejoin", "rejoin", "rejoin"]
    assert "waiting for the hub" in plans[1].reason
    # a hub that is up: an unready spoke is the spoke's own problem
    up = plan_up(spec.clusters, existing={"t-hub", *existing}, healthy={"t-hub": True},
                 ready_through_hub=True)  # fmt: skip
    assert [p.action for p in up] == ["keep", "repair", "repair", "repair"]
    # where a spoke's readiness is its own (kind): the hub's state changes nothing
    kind = plan_up(spec.clusters, existing=existing, healthy={})
    assert [p.action for p in kind] == ["create", "repair", "repair", "repair"]


def test_waves(spec):
    plans = plan_up(spec.clusters, existing=set(), healthy={})
    assert [len(w) for w in waves(plans, hub_first=False)] == [4]
    first, rest = waves(plans, hub_first=True)
    assert [p.cluster.name for p in first] == ["t-hub"] and len(rest) == 3
    assert waves(plans[1:], hub_first=True) == [plans[1:]]
    assert waves([], hub_first=False) == []


def test_plain_lines_read_like_kind():
    assert plain_line(Event("hub", "creating", "start")) == " • hub: creating ..."
    assert plain_line(Event("hub", "creating", "done", seconds=41.25)) == " ✓ hub: creating (41.2s)"
    assert plain_line(Event("hub", "wiring the registry", "fail", "boom", 1.0)) == (
        " ✗ hub: wiring the registry (1.0s): boom"
    )
    assert plain_line(Event("", "preflight", "warn", "cgroup v1")) == " ! fleet: cgroup v1"
    assert (
        plain_line(Event("hub", "keep", "note", "exists and is ready"))
        == "   hub: exists and is ready"
    )


def test_board_keeps_one_row_per_cluster():
    board = Board(["a", "b"])
    board.apply(Event("a", "creating", "start"))
    board.apply(Event("a", "creating", "done", seconds=1.0))
    board.apply(Event("a", "installing Calico v3.32.1", "start"))
    board.apply(Event("b", "creating", "fail", "boom"))
    board.apply(Event("", "preflight", "done"))
    a, b = board.rows()
    assert (a.step, a.state, a.steps_done) == ("installing Calico v3.32.1", "running", ["creating"])
    assert (b.state, b.message) == ("failed", "boom")
    board.apply(Event("a", "up", "done", seconds=3.0, final=True))
    assert board.rows()[0].state == "done"


def test_one_cluster_named_as_a_string_is_that_cluster(spec):
    from kindfleet.lifecycle.up import selected

    name = spec.spokes[0].name
    assert [c.name for c in selected(spec, name)] == [name]  # was: "no cluster 's'"
    assert [c.name for c in selected(spec, [name])] == [name]
    assert selected(spec, None) == list(spec.clusters)
