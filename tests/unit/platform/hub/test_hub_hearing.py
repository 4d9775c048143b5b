"""The hub's hearing: silence counts only while the hub could have heard, never more than
the truth (a verdict may come late, never early), and forgetting old marks changes no
verdict within the longest window."""

from __future__ import annotations

import asyncio
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from kindfleet.platform.hub.rules.hearing import Hearing, forget
from kindfleet.platform.hub.service.hearing import TICK, Ears


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def timeline(since: float, steps: list[tuple[float, bool]]) -> tuple[list, float, list]:
    """Walk steps of (seconds, deaf?) from `since`, marking after each: the marks, the
    time reached, and the deaf intervals (for the truth)."""
    marks, now, deaf, spans = [(since, 0.0)], since, 0.0, []
    for seconds, is_deaf in steps:
        if is_deaf:
            spans.append((now, now + seconds))
            deaf += seconds
        now += seconds
        marks.append((now, deaf))
    return marks, now, spans


def true_audible(start: float, now: float, spans: list[tuple[float, float]]) -> float:
    deaf = sum(max(0.0, min(b, now) - max(a, start)) for a, b in spans)
    return max(0.0, now - start - deaf)


STEPS = st.lists(st.tuples(st.floats(0.01, 50), st.booleans()), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(steps=STEPS, at=st.floats(0, 1), tail=st.floats(0, 5), tail_deaf=st.booleans())
def test_never_more_than_the_truth_and_never_less_than_a_mark_gap(steps, at, tail, tail_deaf):
    since = 1000.0
    marks, last, spans = timeline(since, steps)
    now = last + tail  # time since the last mark, deaf or not
    if tail_deaf:
        spans.append((last, now))
    deaf = sum(b - a for a, b in spans)
    hearing = Hearing(since, tuple(marks), now, deaf)
    start = since + at * (now - since)
    truth = true_audible(start, now, spans)
    got = hearing.audible(start)
    assert got <= truth + 1e-6
    before = max(t for t, _ in marks if t <= start)
    assert got >= truth - (start - before) - 1e-6


@settings(max_examples=100, deadline=None)
@given(steps=STEPS)
def test_before_serving_nothing_is_audible_and_an_old_start_counts_from_serving(steps):
    since = 1000.0
    marks, now, spans = timeline(since, steps)
    deaf = sum(b - a for a, b in spans)
    assert Hearing(None, (), now, 0.0).audible(None) == 0.0
    hearing = Hearing(since, tuple(marks), now, deaf)
    assert abs(hearing.audible(None) - true_audible(since, now, spans)) < 1e-6
    assert hearing.audible(since - 3600) == hearing.audible(None)  # heard by an older hub


@settings(max_examples=200, deadline=None)
@given(steps=STEPS, keep=st.floats(1, 200), at=st.floats(0, 1))
def test_forgetting_marks_never_makes_a_verdict_early_nor_late(steps, keep, at):
    """Forgotten marks only make the count start later (never more than the truth), and
    a silence already past `keep` stays past it (a verdict due stays due)."""
    since = 1000.0
    marks, now, spans = timeline(since, steps)
    deaf = sum(b - a for a, b in spans)
    full = Hearing(since, tuple(marks), now, deaf)
    kept = Hearing(since, tuple(forget(marks, now, deaf, keep)), now, deaf)
    start = since + at * (now - since)
    a, b = full.audible(start), kept.audible(start)
    assert b <= true_audible(start, now, spans) + 1e-6
    if a > keep:
        assert b > keep


def test_a_store_outage_is_deaf_time_while_it_lasts_and_after():
    clock = Clock()
    ears = Ears(clock, keep_audible=100)
    ears.store(False)  # before serving: nothing counts either way
    ears.store(True)
    ears.serving()
    clock.now += 5
    ears.store(False)
    clock.now += 20
    assert ears.store_down_since == 105.0
    assert ears.hearing().audible(None) == 5.0  # counted while still down
    ears.store(True)
    clock.now += 3
    assert ears.store_down_since is None
    assert ears.hearing().audible(None) == 8.0
    # no mark since serving (no watch ran): deafness before `start` is counted too
    assert ears.hearing().audible(clock.now - 1) <= 1.0


def test_nothing_is_audible_before_serving():
    clock = Clock()
    ears = Ears(clock, keep_audible=100)
    clock.now += 300  # a slow start: store replay, queue rebuilt
    assert ears.hearing().audible(None) == 0.0
    ears.serving()
    clock.now += 2
    assert ears.hearing().audible(50.0) == 2.0  # heard long before: counts from serving


def test_heard_keeps_the_latest_time():
    ears = Ears(Clock(), keep_audible=100)
    ears.heard_from("a", 10.0)
    ears.heard_from("a", 5.0)  # a commit that finished late for an older request
    assert ears.heard["a"] == 10.0
    ears.forget_spoke("a")
    assert "a" not in ears.heard


async def test_a_stalled_loop_is_deaf_time():
    """A real stall (the loop blocked 0.6 s) is counted as deaf: the audible time over the
    stall is at most what the loop could run, whether a pass looks during or after it."""
    ears = Ears(keep_audible=100)
    ears.serving()
    watch = asyncio.create_task(ears.watch())
    try:
        await asyncio.sleep(2 * TICK)
        start = ears.now()
        time.sleep(0.6)  # the loop cannot run: nothing could be heard
        during = ears.hearing().audible(start)
        assert during <= 2 * TICK
        await asyncio.sleep(2 * TICK)
        after = ears.hearing().audible(start)
        assert after <= ears.now() - start - 0.5
    finally:
        watch.cancel()


def _watched(ears: Ears, clock: Clock, seconds: int) -> None:
    """The watch, on the fake clock: one on-time wake-up per step."""
    for _ in range(seconds * 10):
        clock.now += 0.1
        ears._mark()  # what each wake-up of `watch` does once it was on time


def test_a_silence_longer_than_the_kept_marks_is_counted_in_full_when_asked_to_keep_it():
    """Issue 18: exclusive work waits its whole lease of audible silence. With marks kept
    for less than the lease (a short loss window, a long lease) the silence stopped
    growing at the marks' reach, and the work waited forever."""
    clock = Clock()
    short = Ears(clock, keep_audible=8)
    short.serving()
    short.heard_from("s", clock.now)
    _watched(short, clock, 30)
    assert short.hearing().audible(short.heard["s"]) < 10  # capped near what it keeps

    clock = Clock()
    kept = Ears(clock, keep_audible=8)
    kept.keep_at_least(8 + 10)  # an exclusive lease of 10 s
    kept.serving()
    kept.heard_from("s", clock.now)
    _watched(kept, clock, 30)
    assert kept.hearing().audible(kept.heard["s"]) >= 10
