"""Placement: selectors, capacity, policies, queue order, no head-of-line blocking, explain."""

from __future__ import annotations

import pytest

from kindfleet.platform.hub.rules.placement import (
    Amount,
    Demand,
    Policy,
    QueueSpot,
    SpokeView,
    explain_pending,
    format_bytes,
    free_share,
    place,
    selector_mismatches,
    verdict,
)
from kindfleet.platform.wire import Selector, SelectorExpression, SpokeHealth

GI = 2**30


NOTHING = Amount()


def spoke(name, *, cpu=4000, mem=8 * GI, gpus=0, used=NOTHING, health=SpokeHealth.READY, **labels):
    return SpokeView(name, labels, Amount(cpu, mem, gpus), used, health)


def demand(wid, *, cpu=100, mem=GI, gpus=0, priority=0, order=0, selector=None, avoid=()):
    return Demand(
        wid, Amount(cpu, mem, gpus), selector or Selector(), priority, order, frozenset(avoid)
    )


def expr(key, op, *values):
    return SelectorExpression(key=key, operator=op, values=list(values))


# ---------------------------------------------------------------- selectors


@pytest.mark.parametrize(
    ("selector", "labels", "reasons"),
    [
        (Selector(), {}, []),
        (Selector(match_labels={"gpu": "true"}), {"gpu": "true"}, []),
        (
            Selector(match_labels={"gpu": "true"}),
            {},
            ["label gpu=true does not match (gpu not set)"],
        ),
        (
            Selector(match_labels={"gpu": "true"}),
            {"gpu": "false"},
            ["label gpu=true does not match (gpu=false)"],
        ),
        (Selector(match_expressions=[expr("zone", "In", "a", "b")]), {"zone": "b"}, []),
        (
            Selector(match_expressions=[expr("zone", "In", "a", "b")]),
            {"zone": "c"},
            ["label zone in (a, b) does not match (zone=c)"],
        ),
        (
            Selector(match_expressions=[expr("zone", "In", "a")]),
            {},
            ["label zone in (a) does not match (zone not set)"],
        ),
        (Selector(match_expressions=[expr("zone", "NotIn", "a")]), {}, []),
        (Selector(match_expressions=[expr("zone", "NotIn", "a")]), {"zone": "b"}, []),
        (
            Selector(match_expressions=[expr("zone", "NotIn", "a")]),
            {"zone": "a"},
            ["label zone not in (a) does not match (zone=a)"],
        ),
        (Selector(match_expressions=[expr("gpu", "Exists")]), {"gpu": ""}, []),
        (
            Selector(match_expressions=[expr("gpu", "Exists")]),
            {},
            ["label gpu must exist (gpu not set)"],
        ),
        (Selector(match_expressions=[expr("spot", "DoesNotExist")]), {}, []),
        (
            Selector(match_expressions=[expr("spot", "DoesNotExist")]),
            {"spot": "1"},
            ["label spot must not exist (spot=1)"],
        ),
    ],
)
def test_selector_terms(selector, labels, reasons):
    assert selector_mismatches(selector, labels) == reasons


def test_every_failing_term_is_reported():
    sel = Selector(
        match_labels={"gpu": "true", "region": "eu"},
        match_expressions=[expr("tier", "In", "gold")],
    )
    assert len(selector_mismatches(sel, {"region": "us"})) == 3


# ---------------------------------------------------------------- fitting


def test_places_on_a_ready_spoke_with_room():
    assert place([demand("w1")], [spoke("a")], Policy.SPREAD)[0].spoke == "a"


@pytest.mark.parametrize("health", [SpokeHealth.NOT_READY, SpokeHealth.LOST])
def test_never_places_on_a_spoke_that_is_not_ready(health):
    assert place([demand("w1")], [spoke("a", health=health)], Policy.SPREAD) == []


@pytest.mark.parametrize(
    "request_",
    [Amount(4001, GI, 0), Amount(100, 8 * GI + 1, 0), Amount(100, GI, 1)],
)
def test_a_request_larger_than_free_does_not_fit(request_):
    d = Demand("w", request_)
    assert place([d], [spoke("a")], Policy.SPREAD) == []


def test_exactly_full_fits():
    d = Demand("w", Amount(4000, 8 * GI, 2))
    assert place([d], [spoke("a", gpus=2)], Policy.BINPACK)[0].spoke == "a"


def test_allocation_counts_against_free():
    busy = spoke("a", used=Amount(3900, GI, 0))
    assert place([demand("w", cpu=200)], [busy], Policy.SPREAD) == []
    assert place([demand("w", cpu=100)], [busy], Policy.SPREAD)[0].spoke == "a"


def test_capacity_is_used_up_within_one_pass():
    demands = [demand(f"w{i}", cpu=1000, order=i) for i in range(6)]
    placed = place(demands, [spoke("a")], Policy.SPREAD)
    assert [p.workload for p in placed] == ["w0", "w1", "w2", "w3"]


def test_selector_routes_to_the_matching_spoke():
    gpu = Selector(match_labels={"gpu": "true"})
    spokes = [spoke("cpu1"), spoke("gpu1", gpus=2, gpu="true")]
    assert place([demand("w", selector=gpu)], spokes, Policy.SPREAD)[0].spoke == "gpu1"


def test_spoke_that_rejected_the_work_is_avoided():
    spokes = [spoke("a"), spoke("b", cpu=1000)]
    assert place([demand("w", avoid=["a"])], spokes, Policy.SPREAD)[0].spoke == "b"


# ---------------------------------------------------------------- order and policy


def test_priority_then_submission_order():
    demands = [
        demand("late-low", cpu=1000, priority=0, order=1),
        demand("early-low", cpu=1000, priority=0, order=0),
        demand("high", cpu=1000, priority=5, order=9),
    ]
    placed = place(demands, [spoke("a", cpu=2000)], Policy.SPREAD)
    assert [p.workload for p in placed] == ["high", "early-low"]


def test_no_head_of_line_blocking():
    demands = [
        demand("huge", cpu=64000, priority=10, order=0),
        demand("small", cpu=100, order=1),
    ]
    assert [p.workload for p in place(demands, [spoke("a")], Policy.SPREAD)] == ["small"]


def test_spread_takes_the_emptiest_spoke():
    spokes = [spoke("a", used=Amount(2000, GI, 0)), spoke("b")]
    assert place([demand("w")], spokes, Policy.SPREAD)[0].spoke == "b"


def test_binpack_takes_the_fullest_spoke_that_fits():
    spokes = [spoke("a", used=Amount(2000, 4 * GI, 0)), spoke("b")]
    assert place([demand("w")], spokes, Policy.BINPACK)[0].spoke == "a"


def test_spread_distributes_a_burst():
    demands = [demand(f"w{i}", order=i) for i in range(4)]
    placed = place(demands, [spoke("a"), spoke("b")], Policy.SPREAD)
    assert sorted(p.spoke for p in placed) == ["a", "a", "b", "b"]


def test_binpack_fills_one_spoke_first():
    demands = [demand(f"w{i}", order=i) for i in range(4)]
    placed = place(demands, [spoke("a"), spoke("b")], Policy.BINPACK)
    assert {p.spoke for p in placed} == {"a"}


def test_ties_break_by_name_for_a_stable_answer():
    assert place([demand("w")], [spoke("b"), spoke("a")], Policy.SPREAD)[0].spoke == "a"


def test_gpu_share_only_matters_to_gpu_work():
    assert free_share(Amount(0, 0, 4), Amount(4, 4, 4), gpu=False) == 0.0
    assert free_share(Amount(0, 0, 3), Amount(4, 4, 4), gpu=True) == pytest.approx(0.25)


# ---------------------------------------------------------------- explain


def test_verdict_lists_every_reason():
    d = demand("w", cpu=2000, mem=GI, gpus=2, selector=Selector(match_labels={"gpu": "true"}))
    v = verdict(
        d, spoke("a", cpu=4000, gpus=1, used=Amount(3000, 0, 0), health=SpokeHealth.NOT_READY)
    )
    assert not v.fits
    assert v.reasons == [
        "spoke NotReady",
        "label gpu=true does not match (gpu not set)",
        "needs 2 cpu, 1 free",  # busy now: it fits once work finishes
        "needs 2 GPUs, 1 free (1 in all: it never fits here)",
    ]


def test_verdict_fits():
    assert verdict(demand("w"), spoke("a")).fits


def test_memory_in_words():
    v = verdict(demand("w", mem=3 * GI), spoke("a", mem=2 * GI + GI // 2))
    assert v.reasons == ["needs 3Gi memory, 2.5Gi free (2.5Gi in all: it never fits here)"]
    assert format_bytes(512 * 2**20) == "512Mi"
    assert format_bytes(100) == "100B"


def test_explain_waiting_with_no_fit():
    d = demand("w", gpus=1)
    e = explain_pending(d, [spoke("b"), spoke("a")], QueueSpot(2, 5), deadline_in=30)
    assert [v.spoke for v in e.considered] == ["a", "b"]
    assert all(
        v.reasons == ["needs 1 GPU, 0 free (0 in all: it never fits here)"] for v in e.considered
    )
    assert (e.queue_position, e.queue_length) == (2, 5)
    assert "no spoke can take it now (2 considered)" in e.summary
    assert "position 2 of 5" in e.summary
    assert "gives up in 30s" in e.summary


def test_explain_with_no_spokes():
    e = explain_pending(demand("w"), [], QueueSpot(1, 1), deadline_in=None)
    assert e.considered == []
    assert "no spoke is registered" in e.summary


def test_explain_when_it_fits():
    e = explain_pending(demand("w"), [spoke("a")], QueueSpot(1, 1), deadline_in=None)
    assert e.summary.startswith("fits on a")
