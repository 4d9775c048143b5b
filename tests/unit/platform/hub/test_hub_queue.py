"""The in-memory pending queue: it decides exactly what `placement.place` decides over the
same work and spokes, and between passes it skips only shapes that cannot fit until the
fleet gains room. Random queues, random fleets, random sequences of passes and changes."""

from __future__ import annotations

import json
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kindfleet.platform.hub.rules.placement import Amount, Demand, Policy, SpokeView, place
from kindfleet.platform.hub.rules.queue import PendingQueue, Queued
from kindfleet.platform.wire import Selector, SpokeHealth

SELECTORS = {
    "{}": Selector(),
    "gpu": Selector(match_labels={"gpu": "true"}),
    "zone-a": Selector(match_labels={"zone": "a"}),
}
LABELS = [{}, {"gpu": "true"}, {"zone": "a"}, {"gpu": "true", "zone": "a"}]

demands = st.lists(
    st.tuples(
        st.integers(-2, 2),  # priority
        st.sampled_from([100, 500, 1000, 3000]),  # cpu millis
        st.sampled_from(list(SELECTORS)),
        st.sampled_from([frozenset(), frozenset({"s0"})]),
    ),
    max_size=40,
)
spokes = st.lists(
    st.tuples(
        st.integers(0, 4000),
        st.sampled_from(LABELS),
        st.sampled_from([SpokeHealth.READY, SpokeHealth.READY, SpokeHealth.NOT_READY]),
        st.booleans(),  # draining
    ),
    min_size=1,
    max_size=4,
)


def _items(raw):
    return [
        Queued(f"w{i}", i, prio, Amount(cpu, 2**20, 0), SELECTORS[sel], sel, avoid)
        for i, (prio, cpu, sel, avoid) in enumerate(raw)
    ]


def _views(raw):
    return [
        SpokeView(f"s{i}", labels, Amount(cpu, 2**30, 0), Amount(), health, draining=drain)
        for i, (cpu, labels, health, drain) in enumerate(raw)
    ]


def _demand(q: Queued) -> Demand:
    return Demand(q.workload, q.request, q.selector, q.priority, q.seq, q.avoid)


@given(work=demands, fleet=spokes, policy=st.sampled_from(list(Policy)))
def test_a_plan_is_what_placement_decides(work, fleet, policy):
    queue = PendingQueue()
    items = _items(work)
    for item in reversed(items):  # arrival order does not matter, queue order does
        queue.add(item)
    views = _views(fleet)
    assert queue.plan(views, policy).placements == place(map(_demand, items), views, policy)


def test_unfit_shapes_are_skipped_until_the_fleet_gains_room():
    queue = PendingQueue()
    for i in range(1000):
        queue.add(Queued(f"big{i}", i, 0, Amount(8000, 1, 0), Selector(), "{}"))
    small = [SpokeView("s0", {}, Amount(1000, 2**30, 0), Amount(), SpokeHealth.READY)]
    plan = queue.plan(small, Policy.SPREAD)
    assert plan.placements == [] and plan.shapes_tried == 1
    queue.mark_unfit(plan.unfit, plan.version)
    assert queue.plan(small, Policy.SPREAD).shapes_tried == 0  # nothing changed: nothing tried
    queue.add(Queued("tiny", 5000, 0, Amount(100, 1, 0), Selector(), "{}"))
    again = queue.plan(small, Policy.SPREAD)
    assert again.shapes_tried == 1 and [p.workload for p in again.placements] == ["tiny"]
    queue.fleet_changed()
    big = [SpokeView("s0", {}, Amount(16100, 2**30, 0), Amount(), SpokeHealth.READY)]
    assert [p.workload for p in queue.plan(big, Policy.SPREAD).placements] == [
        "big0",
        "big1",
        "tiny",
    ]


def test_discard_and_requeue_keep_queue_order():
    queue = PendingQueue()
    for i in range(5):
        queue.add(Queued(f"w{i}", i, 0, Amount(100, 1, 0), Selector(), "{}"))
    queue.discard("w0")
    queue.discard("w2")
    queue.add(Queued("w0", 0, 0, Amount(100, 1, 0), Selector(), "{}"))  # back with its place
    queue.add(Queued("w9", 9, 1, Amount(100, 1, 0), Selector(), "{}"))  # higher priority
    fleet = [SpokeView("s0", {}, Amount(10_000, 2**30, 0), Amount(), SpokeHealth.READY)]
    order = [p.workload for p in queue.plan(fleet, Policy.SPREAD).placements]
    assert order == ["w9", "w0", "w1", "w3", "w4"]
    assert len(queue) == 5 and queue.position("w9") == 1 and queue.position("w1") == 3


def test_a_workload_back_with_its_old_seq_at_another_priority_goes_where_it_now_belongs():
    """Found in review: the dead entries of a shape were one set, whatever their priority:
    a workload back with the same seq at another priority was revived in its old bucket
    (its old place, its old priority), and its bookkeeping went wrong."""
    queue = PendingQueue()
    for name, seq in (("a", 1), ("w", 5), ("b", 9)):
        queue.add(Queued(name, seq, 0, Amount(100, 1, 0), Selector(), "{}"))
    queue.discard("w")  # from the middle: marked dead where it is
    queue.add(Queued("w", 5, 1, Amount(100, 1, 0), Selector(), "{}"))  # higher priority now
    assert queue.position("w") == 1 and queue.position("a") == 2
    fleet = [SpokeView("s0", {}, Amount(10_000, 2**30, 0), Amount(), SpokeHealth.READY)]
    assert [p.workload for p in queue.plan(fleet, Policy.SPREAD).placements] == ["w", "a", "b"]
    queue.discard("w")
    queue.discard("a")
    assert queue.ids() == ["b"] and len(queue) == 1
    assert [p.workload for p in queue.plan(fleet, Policy.SPREAD).placements] == ["b"]


def test_a_queued_workload_keeps_its_place_not_a_copy_of_its_shape():
    """What the hub holds per pending workload, measured: 100,000 pending are the hub's
    memory target (issue 17). Each workload arrives with its own request, selector text and
    set of spokes to avoid, as a store row is read; the queue keeps its id, seq and
    priority and refers to its shape's one key (it kept all of them: ~650 bytes each)."""
    queue = PendingQueue()
    ids = [f"wl-{i:020x}" for i in range(20_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, workload in enumerate(ids):
            selector = Selector.model_validate({"match_labels": {"pool": "gpu"}})
            queue.add(Queued(workload, i, 0, Amount(100, 2**20, 0), selector,
                             json.dumps({"match_labels": {"pool": "gpu"}}), frozenset(()),))  # fmt: skip
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(queue) == len(ids) and queue.shapes == 1
    assert held / len(ids) < 300, f"{held / len(ids):.0f} bytes per queued workload"


class IncrementalQueue(RuleBasedStateMachine):
    """However submissions, placements and freed room interleave, a pass that follows the
    rules (mark unfit, bump on room gained) places what a full look would place."""

    def __init__(self) -> None:
        super().__init__()
        self.queue = PendingQueue()
        self.items: dict[str, Queued] = {}
        self.gone: dict[str, Queued] = {}  # cancelled while pending (may come back)
        self.allocated = {"s0": 0, "s1": 0}
        self.capacity = {"s0": 2000, "s1": 1000}
        self.seq = 0

    def views(self):
        return [
            SpokeView(n, {}, Amount(self.capacity[n], 2**30, 0), Amount(a, 0, 0), SpokeHealth.READY)
            for n, a in self.allocated.items()
        ]

    @rule(cpu=st.sampled_from([100, 700, 1500, 2500]), prio=st.integers(0, 1))
    def submit(self, cpu, prio):
        self.seq += 1
        item = Queued(f"w{self.seq}", self.seq, prio, Amount(cpu, 1, 0), Selector(), "{}")
        self.items[item.workload] = item
        self.queue.add(item)

    @rule(spoke=st.sampled_from(["s0", "s1"]))
    def free(self, spoke):
        if self.allocated[spoke]:
            self.allocated[spoke] = 0
            self.queue.fleet_changed()

    @rule(data=st.data())
    def cancel(self, data):
        """One leaves from anywhere in the queue (cancelled, expired)."""
        if self.items:
            workload = data.draw(st.sampled_from(sorted(self.items)))
            self.gone[workload] = self.items.pop(workload)
            self.queue.discard(workload)

    @rule(data=st.data())
    def back(self, data):
        """One comes back with its old place (a retry, a rejection)."""
        if self.gone:
            workload = data.draw(st.sampled_from(sorted(self.gone)))
            self.items[workload] = item = self.gone.pop(workload)
            self.queue.add(item)

    @rule()
    def pass_(self):
        views = self.views()
        full = place((_demand(i) for i in self.items.values()), views, Policy.SPREAD)
        plan = self.queue.plan(views, Policy.SPREAD)
        assert plan.placements == full
        for p in plan.placements:
            self.allocated[p.spoke] += self.items.pop(p.workload).request.cpu_millis
            self.queue.discard(p.workload)
        self.queue.mark_unfit(plan.unfit, plan.version)

    @invariant()
    def same_members(self):
        assert sorted(self.queue.ids()) == sorted(self.items)
        assert len(self.queue) == len(self.items)

    @invariant()
    def queue_order(self):
        ranked = sorted(self.items.values(), key=lambda i: (-i.priority, i.seq))
        for rank, item in enumerate(ranked[:4], 1):
            assert self.queue.position(item.workload) == rank


TestIncrementalQueue = IncrementalQueue.TestCase
TestIncrementalQueue.settings = settings(max_examples=80, stateful_step_count=40, deadline=None)
