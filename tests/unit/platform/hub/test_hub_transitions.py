"""Every edge of the workload state machine, as pure transitions of one record."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from kindfleet.platform.hub.rules import delivery, times, views
from kindfleet.platform.hub.rules import transitions as lc
from kindfleet.platform.hub.rules.transitions import TransitionError
from kindfleet.platform.wire import (
    EventType,
    RetryPolicy,
    StatusEvent,
    WorkloadSpec,
    WorkloadState,
)

T0 = 1_000_000.0
P, A, R = WorkloadState.PENDING, WorkloadState.ASSIGNED, WorkloadState.RUNNING


def spec(**kw):
    return WorkloadSpec(name="train", command=["python", "train.py"], **kw)


def pending(**kw):
    return lc.new_record("wl-1", spec(**kw), T0, seq=1)


def assigned(spoke="s1", **kw):
    return lc.assign(pending(**kw), spoke, T0 + 1)


def running(spoke="s1", **kw):
    return report(assigned(spoke, **kw), EventType.STARTED).record


def report(rec, kind, *, spoke=None, generation=None, at=T0 + 2, **extra):
    event = StatusEvent(
        seq=1,
        workload=rec.id,
        generation=rec.generation if generation is None else generation,
        type=kind,
        at=times.utc(at),
        **extra,
    )
    return lc.apply_event(rec, spoke or rec.spoke or "s1", event, T0 + 3)


# ---------------------------------------------------------------- placement and start


def test_new_work_is_pending_with_generation_zero():
    rec = pending()
    assert (rec.state, rec.generation, rec.spoke, rec.attempts) == (P, 0, None, ())


def test_assign_bumps_the_generation_and_opens_an_attempt():
    rec = assigned()
    assert (rec.state, rec.generation, rec.spoke) == (A, 1, "s1")
    assert rec.attempts[-1].state is A and rec.attempts[-1].spoke == "s1"
    again = lc.assign(lc.spoke_lost(rec, T0 + 5), "s2", T0 + 6)
    assert (again.generation, again.spoke, len(again.attempts)) == (2, "s2", 2)


def test_only_pending_work_is_assigned():
    with pytest.raises(TransitionError):
        lc.assign(assigned(), "s2", T0)


def test_accepted_acknowledges_without_starting():
    rec = report(assigned(), EventType.ACCEPTED).record
    assert rec.state is A and rec.accepted


def test_started_runs_and_keeps_the_spokes_time():
    rec = running()
    assert rec.state is R and rec.accepted
    assert rec.attempts[-1].started_at == T0 + 2


def test_started_twice_is_harmless():
    rec = running()
    assert report(rec, EventType.STARTED).record.state is R


# ---------------------------------------------------------------- endings


def test_success():
    rec = report(running(), EventType.SUCCEEDED, exit_code=0).record
    assert rec.state is WorkloadState.SUCCEEDED
    assert rec.attempts[-1].exit_code == 0 and rec.attempts[-1].finished_at == T0 + 2


def test_success_straight_from_assigned():
    assert report(assigned(), EventType.SUCCEEDED).record.state is WorkloadState.SUCCEEDED


def test_failure_without_retries_fails():
    rec = report(running(), EventType.FAILED, exit_code=3).record
    assert rec.state is WorkloadState.FAILED
    assert rec.message == "exit code 3"


def test_failure_with_retries_goes_back_to_the_queue():
    rec = report(running(retry=RetryPolicy(max_retries=2)), EventType.FAILED, exit_code=1).record
    assert (rec.state, rec.retries_used, rec.spoke, rec.reason) == (P, 1, None, lc.RETRYING)
    assert rec.attempts[-1].state is WorkloadState.FAILED
    assert "retry 1 of 2" in (rec.message or "")


def test_retries_run_out():
    rec = running(retry=RetryPolicy(max_retries=1))
    rec = report(rec, EventType.FAILED, exit_code=1).record
    rec = report(lc.assign(rec, "s2", T0 + 4), EventType.FAILED, exit_code=1).record
    assert rec.state is WorkloadState.FAILED and rec.retries_used == 1


def test_retry_on_failure_off():
    policy = RetryPolicy(max_retries=3, retry_on_failure=False)
    assert report(running(retry=policy), EventType.FAILED).record.state is WorkloadState.FAILED


def test_a_timeout_is_not_retried():
    rec = report(
        running(retry=RetryPolicy(max_retries=3)), EventType.FAILED, reason=lc.DEADLINE_EXCEEDED
    ).record
    assert (rec.state, rec.reason) == (WorkloadState.FAILED, lc.DEADLINE_EXCEEDED)


def test_rejected_goes_back_without_a_retry_and_avoids_that_spoke():
    rec = report(assigned(), EventType.REJECTED, message="only 1 GPU").record
    assert (rec.state, rec.retries_used, rec.reason) == (P, 0, lc.REJECTED)
    assert rec.demand().avoid == frozenset({"s1"})
    assert "only 1 GPU" in (rec.message or "")


def test_retried_work_gets_a_fresh_pending_deadline():
    rec = report(
        running(retry=RetryPolicy(max_retries=1), pending_deadline_seconds=60), EventType.FAILED
    ).record
    assert rec.deadline_at == T0 + 3 + 60


# ---------------------------------------------------------------- fencing


@pytest.mark.parametrize(
    ("spoke", "generation"),
    [("s2", None), ("s1", 0), ("s1", 2)],
)
def test_reports_from_a_stale_copy_are_refused(spoke, generation):
    outcome = report(running(), EventType.SUCCEEDED, spoke=spoke, generation=generation)
    assert outcome.refused


def test_reports_about_unknown_or_finished_work_are_refused():
    done = report(running(), EventType.SUCCEEDED).record
    assert report(done, EventType.FAILED).refused
    event = StatusEvent(seq=1, workload="x", generation=1, type=EventType.STARTED, at=times.utc(T0))
    assert lc.apply_event(None, "s1", event, T0).refused


def test_old_spoke_cannot_report_after_work_moved():
    moved = lc.assign(lc.spoke_lost(assigned("s1"), T0 + 5), "s2", T0 + 6)
    assert report(moved, EventType.STARTED, spoke="s1", generation=1).refused
    assert not report(moved, EventType.STARTED, spoke="s2").refused


def test_is_stale():
    rec = running()
    assert not lc.is_stale(rec, "s1", 1)
    assert lc.is_stale(rec, "s1", 2)
    assert lc.is_stale(rec, "s2", 1)
    assert lc.is_stale(None, "s1", 1)
    assert lc.is_stale(report(rec, EventType.SUCCEEDED).record, "s1", 1)


# ---------------------------------------------------------------- cancel


def test_cancel_pending_ends_at_once():
    rec = lc.cancel(pending(), T0 + 1)
    assert (rec.state, rec.reason) == (WorkloadState.CANCELLED, lc.CANCELLED)


@pytest.mark.parametrize("make", [assigned, running])
def test_cancel_live_work_asks_the_spoke(make):
    rec = lc.cancel(make(), T0 + 5)
    assert rec.cancel_requested and rec.state in lc.ACTIVE
    assert lc.cancel(rec, T0 + 6) is rec  # idempotent


def test_cancel_finished_work_is_refused():
    with pytest.raises(TransitionError, match="already ended"):
        lc.cancel(report(running(), EventType.SUCCEEDED).record, T0)


def test_the_spoke_reports_the_cancellation():
    rec = report(lc.cancel(running(), T0 + 5), EventType.CANCELLED).record
    assert rec.state is WorkloadState.CANCELLED


def test_a_failure_after_cancel_is_a_cancellation_not_a_retry():
    rec = lc.cancel(running(retry=RetryPolicy(max_retries=5)), T0 + 5)
    assert report(rec, EventType.FAILED, exit_code=137).record.state is WorkloadState.CANCELLED


def test_a_rejection_after_cancel_is_a_cancellation_not_a_requeue():
    """Found from outside: a spoke that had not yet seen the cancel rejected the work, and
    it went back to the queue, cancel forgotten, and ran on another spoke."""
    rec = report(lc.cancel(assigned(), T0 + 1), EventType.REJECTED, message="no GPU").record
    assert (rec.state, rec.reason, rec.cancel_requested) == (
        WorkloadState.CANCELLED,
        lc.CANCELLED,
        True,
    )
    assert rec.attempts[-1].reason == lc.REJECTED
    assert "rejected it: no GPU" in (rec.message or "")


# ---------------------------------------------------------------- lost spokes


def test_lost_spoke_unstarted_work_is_requeued_without_a_retry():
    rec = lc.spoke_lost(assigned(), T0 + 40)
    assert (rec.state, rec.retries_used, rec.reason, rec.spoke) == (P, 0, lc.SPOKE_LOST, None)


def test_lost_spoke_running_work_is_retried():
    rec = lc.spoke_lost(running(retry=RetryPolicy(max_retries=1)), T0 + 40)
    assert (rec.state, rec.retries_used, rec.reason) == (P, 1, lc.RETRYING)
    assert rec.attempts[-1].reason == lc.SPOKE_LOST


def test_lost_spoke_running_work_fails_without_retries():
    rec = lc.spoke_lost(running(), T0 + 40)
    assert (rec.state, rec.reason) == (WorkloadState.FAILED, lc.SPOKE_LOST)


def test_lost_spoke_retry_on_spoke_lost_off():
    policy = RetryPolicy(max_retries=2, retry_on_spoke_lost=False)
    assert lc.spoke_lost(running(retry=policy), T0 + 40).state is WorkloadState.FAILED


@pytest.mark.parametrize("make", [assigned, running])
def test_lost_spoke_with_a_cancel_requested_ends_cancelled(make):
    rec = lc.spoke_lost(lc.cancel(make(), T0 + 5), T0 + 40)
    assert rec.state is WorkloadState.CANCELLED


def test_replaced_spoke_says_so():
    rec = lc.spoke_lost(running(), T0 + 40, why=lc.SPOKE_REPLACED)
    assert (rec.state, rec.reason) == (WorkloadState.FAILED, lc.SPOKE_REPLACED)
    assert "joined again by a new agent" in (rec.message or "")


def test_lost_spoke_leaves_settled_work_alone():
    done = report(running(), EventType.SUCCEEDED).record
    assert lc.spoke_lost(done, T0 + 40) is done


# ---------------------------------------------------------------- deadlines and delivery


def test_expire():
    rec = lc.expire(pending(pending_deadline_seconds=30), T0 + 30)
    assert (rec.state, rec.reason) == (WorkloadState.EXPIRED, lc.EXPIRED)
    assert rec.message == "not placed within 30s"


def test_delivery_is_due_until_acknowledged():
    rec = assigned()
    assert delivery.delivery_due(rec, T0 + 1, 5)
    sent = lc.WorkloadRecord(**{**rec.__dict__, "delivered_at": T0 + 1})
    assert not delivery.delivery_due(sent, T0 + 2, 5)
    assert delivery.delivery_due(sent, T0 + 6, 5)
    assert delivery.next_due(sent, 5) == T0 + 6
    acked = report(sent, EventType.ACCEPTED).record
    assert not delivery.delivery_due(acked, T0 + 60, 5)
    assert delivery.next_due(acked, 5) is None


def test_an_acknowledged_assignment_not_held_is_due_again_at_once():
    sent = replace(assigned(), delivered_at=T0 + 1)
    acked = report(sent, EventType.ACCEPTED).record  # generation 1 on s1
    held = {(acked.id, 1)}
    assert delivery.forgotten([acked], "s1", held) == []
    again = delivery.forgotten([acked], "s1", set())
    # Sent all the same: the spoke may hold it (a heartbeat older than its accept).
    assert [(r.accepted, r.delivered_at) for r in again] == [(False, delivery.LONG_AGO)]
    assert delivery.delivery_due(again[0], T0 + 2, 5)  # due at once, not after the period
    assert delivery.forgotten([acked], "s1", {(acked.id, 2)}) == [again[0]]  # not this one
    assert delivery.forgotten([acked], "s2", set()) == []  # another spoke's heartbeat
    assert delivery.forgotten([sent], "s1", set()) == []  # not acknowledged: already due
    assert delivery.forgotten([report(acked, EventType.STARTED).record], "s1", set()) == []


def test_cancel_is_due_until_the_run_ends():
    rec = lc.cancel(running(), T0 + 5)
    assert delivery.cancel_due(rec, T0 + 5, 5)
    assert not delivery.cancel_due(pending(), T0, 5)


def test_naive_and_absurd_times_are_tamed():
    assert times.epoch(datetime(2020, 1, 1), default=0) == 1577836800.0
    assert times.epoch(datetime(1, 1, 1), default=7) == times.EARLIEST


def test_wire_view():
    wire = views.to_wire(running())
    assert wire.state is R and wire.generation == 1 and wire.attempts[0].spoke == "s1"
    assert "running on spoke s1" in views.describe(running())
