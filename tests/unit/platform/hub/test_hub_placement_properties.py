"""Properties of placement and the lifecycle together, under random fleets and histories.

Random spokes, random work, random sequences of placement passes, starts, finishes,
failures, lost spokes, recoveries and capacity changes. Whatever happens:
- no placement pass ever leaves a spoke it placed on with more allocated than capacity;
- a workload is never live on two spokes, and nothing submitted is ever dropped;
- after a pass, nothing still Pending would fit on any Ready spoke (no head-of-line block).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kindfleet.platform.hub.rules import transitions as lifecycle
from kindfleet.platform.hub.rules.placement import Amount, Policy, SpokeView, place, verdict
from kindfleet.platform.hub.rules.times import utc
from kindfleet.platform.wire import (
    EventType,
    Resources,
    RetryPolicy,
    Selector,
    SpokeHealth,
    StatusEvent,
    WorkloadSpec,
    WorkloadState,
)

LABELS = [{}, {"gpu": "true"}, {"zone": "a"}, {"gpu": "true", "zone": "b"}]
SELECTORS = [
    Selector(),
    Selector(match_labels={"gpu": "true"}),
    Selector(match_labels={"zone": "a"}),
]


class Fleet(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0
        self.seq = 0
        self.capacity: dict[str, Amount] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self.health: dict[str, SpokeHealth] = {}
        self.work: dict[str, lifecycle.WorkloadRecord] = {}

    @initialize(
        spokes=st.lists(
            st.tuples(
                st.integers(0, 8000), st.integers(0, 16), st.integers(0, 4), st.sampled_from(LABELS)
            ),
            min_size=1,
            max_size=5,
        )
    )
    def fleet(self, spokes):
        for i, (cpu, mem, gpus, labels) in enumerate(spokes):
            name = f"s{i}"
            self.capacity[name] = Amount(cpu, mem * 2**30, gpus)
            self.labels[name] = labels
            self.health[name] = SpokeHealth.READY

    def allocated(self) -> dict[str, Amount]:
        alloc = {name: Amount() for name in self.capacity}
        for rec in self.work.values():
            if rec.state in lifecycle.ACTIVE:
                assert rec.spoke is not None
                alloc[rec.spoke] = alloc[rec.spoke] + rec.request
        return alloc

    def views(self) -> list[SpokeView]:
        alloc = self.allocated()
        return [
            SpokeView(n, self.labels[n], self.capacity[n], alloc[n], self.health[n])
            for n in sorted(self.capacity)
        ]

    @rule(
        cpu=st.sampled_from(["100m", "500m", "1", "2", "3500m"]),
        mem=st.sampled_from(["64Mi", "1Gi", "4Gi", "12Gi"]),
        gpu=st.integers(0, 3),
        priority=st.integers(-2, 2),
        selector=st.sampled_from(SELECTORS),
        retries=st.integers(0, 2),
    )
    def submit(self, cpu, mem, gpu, priority, selector, retries):  # noqa: PLR0917 - hypothesis rule
        self.seq += 1
        spec = WorkloadSpec(
            name="w",
            command=["true"],
            resources=Resources(cpu=cpu, memory=mem, gpu=gpu),
            priority=priority,
            selector=selector,
            retry=RetryPolicy(max_retries=retries),
        )
        wid = f"w{self.seq}"
        self.work[wid] = lifecycle.new_record(wid, spec, self.now, seq=self.seq)

    @rule(policy=st.sampled_from(list(Policy)))
    def placement_pass(self, policy):
        before = self.views()
        pending = [r.demand() for r in self.work.values() if r.state is WorkloadState.PENDING]
        decisions = place(pending, before, policy)
        for d in decisions:
            self.work[d.workload] = lifecycle.assign(self.work[d.workload], d.spoke, self.now)
        after = {v.name: v for v in self.views()}
        for name in {d.spoke for d in decisions}:
            assert after[name].allocated.within(after[name].capacity), name
            assert after[name].health is SpokeHealth.READY
        for rec in self.work.values():
            if rec.state is WorkloadState.PENDING:
                assert not any(verdict(rec.demand(), v).fits for v in after.values())

    def _pick(self, data, states):
        ids = sorted(w for w, r in self.work.items() if r.state in states)
        return data.draw(st.sampled_from(ids)) if ids else None

    def _report(self, wid, kind, **extra):
        rec = self.work[wid]
        assert rec.spoke is not None
        event = StatusEvent(
            seq=1,
            workload=wid,
            generation=rec.generation,
            type=kind,
            at=utc(self.now),
            **extra,
        )
        outcome = lifecycle.apply_event(rec, rec.spoke, event, self.now)
        if outcome.record is not None:
            self.work[wid] = outcome.record

    @rule(data=st.data())
    def start(self, data):
        wid = self._pick(data, {WorkloadState.ASSIGNED})
        if wid:
            self._report(wid, EventType.STARTED)

    @rule(data=st.data(), ok=st.booleans())
    def finish(self, data, ok):
        wid = self._pick(data, lifecycle.ACTIVE)
        if wid:
            kind = EventType.SUCCEEDED if ok else EventType.FAILED
            self._report(wid, kind, exit_code=0 if ok else 1)

    @rule(data=st.data())
    def stale_report(self, data):
        """A report from an older generation is never applied."""
        wid = self._pick(data, lifecycle.ACTIVE)
        if wid and self.work[wid].generation > 1:
            rec = self.work[wid]
            event = StatusEvent(
                seq=1,
                workload=wid,
                generation=rec.generation - 1,
                type=EventType.SUCCEEDED,
                at=utc(self.now),
            )
            assert lifecycle.apply_event(rec, rec.spoke or "", event, self.now).refused

    @rule(data=st.data())
    def lose_spoke(self, data):
        name = data.draw(st.sampled_from(sorted(self.capacity)))
        self.health[name] = SpokeHealth.LOST
        for wid, rec in list(self.work.items()):
            if rec.spoke == name and rec.state in lifecycle.ACTIVE:
                self.work[wid] = lifecycle.spoke_lost(rec, self.now)

    @rule(data=st.data(), health=st.sampled_from([SpokeHealth.READY, SpokeHealth.NOT_READY]))
    def spoke_health(self, data, health):
        self.health[data.draw(st.sampled_from(sorted(self.capacity)))] = health

    @rule(data=st.data(), cpu=st.integers(0, 8000))
    def capacity_changes(self, data, cpu):
        name = data.draw(st.sampled_from(sorted(self.capacity)))
        self.capacity[name] = Amount(
            cpu, self.capacity[name].memory_bytes, self.capacity[name].gpus
        )

    @rule(data=st.data())
    def cancel(self, data):
        wid = self._pick(data, {WorkloadState.PENDING, *lifecycle.ACTIVE})
        if wid:
            self.work[wid] = lifecycle.cancel(self.work[wid], self.now)

    @rule()
    def time_passes(self):
        self.now += 7

    @invariant()
    def one_live_assignment_per_workload(self):
        for rec in self.work.values():
            live = [a for a in rec.attempts if a.state in lifecycle.ACTIVE]
            if rec.state in lifecycle.ACTIVE:
                assert len(live) == 1
                assert live[0] is rec.attempts[-1]
                assert (live[0].spoke, live[0].generation) == (rec.spoke, rec.generation)
            else:
                assert live == []
            assert [a.generation for a in rec.attempts] == list(range(1, len(rec.attempts) + 1))

    @invariant()
    def nothing_dropped(self):
        assert len(self.work) == self.seq


TestFleet = Fleet.TestCase
TestFleet.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
