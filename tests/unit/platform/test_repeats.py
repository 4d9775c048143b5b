"""Repeated log lines (a store outage fails every request): the first of a kind at once,
then one per period with the count held back, each kind on its own."""

from __future__ import annotations

import logging

import pytest

from kindfleet.platform.hub.testing import FakeClock
from kindfleet.platform.repeats import MAX_KINDS, Repeats


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records]
    caplog.clear()
    return lines


def test_a_repeated_warning_is_logged_once_per_period_with_its_count(caplog):
    clock = FakeClock(0.0)
    repeats = Repeats(logging.getLogger("test.repeats"), every=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, "test.repeats"):
        for _ in range(1000):
            repeats.warning("store operation failed: database or disk is full")
        assert _lines(caplog) == ["store operation failed: database or disk is full"]
        clock.advance(9.9)
        repeats.warning("store operation failed: database or disk is full")
        assert _lines(caplog) == []
        clock.advance(0.2)
        repeats.warning("store operation failed: database or disk is full")
        assert _lines(caplog) == [
            "store operation failed: database or disk is full (1000 more like it in the last 10s)"
        ]
        repeats.warning("store operation failed: database is locked")  # another kind: at once
        assert _lines(caplog) == ["store operation failed: database is locked"]
        clock.advance(60)
        repeats.warning("store operation failed: database or disk is full")  # none held back
        assert _lines(caplog) == ["store operation failed: database or disk is full"]


def test_many_kinds_do_not_grow_its_memory_without_bound():
    repeats = Repeats(logging.getLogger("test.repeats"), clock=FakeClock(0.0))
    for n in range(10 * MAX_KINDS):
        repeats.warning(f"failure {n}")
    assert len(repeats._seen) <= MAX_KINDS
