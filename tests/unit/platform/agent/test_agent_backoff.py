"""Retry delays: exponential, capped, jittered into the upper half of each step."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kindfleet.platform.agent.backoff import Backoff


def test_grows_then_caps_and_resets():
    b = Backoff(base=0.5, cap=4.0)
    assert [b.next_delay(1.0) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay(0.0) == 0.25


@given(st.integers(0, 200), st.floats(0, 1))
def test_always_within_half_cap_and_cap(attempt, r):
    b = Backoff(base=0.5, cap=10.0, attempt=attempt)
    delay = b.next_delay(r)
    ceiling = min(10.0, 0.5 * 2.0 ** min(attempt, 32))
    assert ceiling / 2 <= delay <= ceiling
