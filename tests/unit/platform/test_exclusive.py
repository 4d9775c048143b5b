"""The exclusive lease rule: the spoke's run is dead before the hub may place it again,
whatever the lease, the stop's grace, the clocks' drift and the moment of the last
answer; a hub silence shorter than the margin leaves the run alone."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kindfleet.platform import exclusive
from kindfleet.platform.agent.answers import HubAnswers
from kindfleet.platform.wire import Mode, WorkloadSpec

LEASES = st.floats(exclusive.MIN_LEASE, exclusive.MAX_LEASE)
GRACES = st.floats(0, 60)


@settings(max_examples=300, deadline=None)
@given(
    lease=LEASES,
    grace=GRACES,
    rate=st.floats(1 - exclusive.DRIFT, 1.0),  # the spoke's clock rate against the hub's
    sent_before_heard=st.floats(0, 30),  # request in flight (spoke sent -> hub heard)
    react=st.floats(0, exclusive.SLACK),  # the agent noticing and reaping
)
def test_the_run_is_dead_before_the_hub_may_replace_it(
    lease, grace, rate, sent_before_heard, react
):
    """Hub time 0: the spoke sends its last answered heartbeat; the hub hears it at
    `sent_before_heard`. The spoke's clock runs at `rate`; it starts the stop when its own
    clock shows `stop_after`, the run is dead `grace + react` hub seconds later. The hub
    may replace at heard + lease at the earliest. (A spoke refuses work whose lease
    leaves it less than MIN_RUN: such a run never starts.)"""
    assume(exclusive.stop_after(lease, grace) >= exclusive.MIN_RUN)
    stop_starts = exclusive.stop_after(lease, grace) / rate
    dead = stop_starts + grace + react
    replace_at = sent_before_heard + lease
    assert dead <= replace_at + 1e-9
    assert exclusive.may_replace(lease, lease)
    assert not exclusive.may_replace(lease - 1e-6, lease)


@given(lease=LEASES, grace=GRACES, unanswered=st.floats(0, 1e6))
def test_time_left_counts_down_from_the_send(lease, grace, unanswered):
    left = exclusive.time_left(unanswered, lease, grace)
    assert left == exclusive.stop_after(lease, grace) - unanswered
    assert (
        exclusive.margin(lease, grace)
        >= lease * exclusive.DRIFT + min(lease, grace + exclusive.SLACK) - 1e-9
        or exclusive.stop_after(lease, grace) == 0.0
    )


def test_no_answer_yet_means_no_time():
    assert exclusive.time_left(None, 300, 5) == 0.0


@pytest.mark.parametrize(("lease", "grace", "after"), [(300, 5, 291.0), (10, 0.5, 8.4), (5, 5, 0)])
def test_stop_after_examples(lease, grace, after):
    assert exclusive.stop_after(lease, grace) == pytest.approx(after)


def test_a_hub_outage_shorter_than_the_margin_stops_nothing():
    """The default lease: a hub silent for 4 minutes leaves the run alone."""
    assert exclusive.time_left(240, exclusive.DEFAULT_LEASE, exclusive.SPOKE_GRACE) > 0


def test_the_spec_carries_the_mode_and_lease():
    base = {"name": "t", "command": ["true"]}
    assert WorkloadSpec.model_validate(base).lease is None
    spec = WorkloadSpec.model_validate({**base, "mode": "exclusive"})
    assert spec.mode is Mode.EXCLUSIVE and spec.lease == exclusive.DEFAULT_LEASE
    assert (
        WorkloadSpec.model_validate({**base, "mode": "exclusive", "lease_seconds": 60}).lease == 60
    )
    with pytest.raises(ValidationError, match="exclusive work only"):
        WorkloadSpec.model_validate({**base, "lease_seconds": 60})
    with pytest.raises(ValidationError):
        WorkloadSpec.model_validate({**base, "mode": "exclusive", "lease_seconds": 1})


def test_the_agent_counts_from_the_latest_answered_send():
    now = [1000.0]
    answers = HubAnswers(lambda: now[0])
    spec = WorkloadSpec(name="t", command=["true"], mode=Mode.EXCLUSIVE, lease_seconds=10)
    autonomous = WorkloadSpec(name="t", command=["true"])
    assert answers.time_left(autonomous, 0.5) is None
    assert answers.time_left(spec, 0.5) == 0.0  # nothing answered yet: do not start
    answers.answered(999.0)
    answers.answered(990.0)  # an older request answered late changes nothing
    assert answers.time_left(spec, 0.5) == pytest.approx(8.4 - 1.0)
    now[0] = 999.0 + 8.4
    assert answers.time_left(spec, 0.5) == pytest.approx(0.0)


@given(
    lease=st.floats(min_value=exclusive.MIN_LEASE, max_value=exclusive.MAX_LEASE),
    grace=st.floats(min_value=0, max_value=600),
)
def test_a_fresh_answer_lets_accepted_work_start_and_a_nearly_spent_lease_does_not(
    lease: float, grace: float
) -> None:
    window = exclusive.stop_after(lease, grace)
    if window < exclusive.MIN_RUN:
        return  # refused at accept (LeaseTooShort)
    assert exclusive.may_start(window, lease, grace)  # just answered
    assert not exclusive.may_start(0.0, lease, grace)
    assert not exclusive.may_start(min(exclusive.MIN_RUN, window / 2) - 0.01, lease, grace)


def test_the_thawed_spoke_of_the_attack_waits() -> None:
    """A 10 s lease, a 5 s grace: 3.9 s from an answered heartbeat's send; 0.9 s left (the
    heartbeat answered at the thaw was sent 3 s before) is not enough to start."""
    assert exclusive.stop_after(10, 5) == pytest.approx(3.9)
    assert not exclusive.may_start(0.9, 10, 5)
    assert exclusive.may_start(3.8, 10, 5)
