"""Workload ids: unique (a clock that steps back included), well formed, and made in
order, which is what keeps a new workload's index entries on pages already written."""

from __future__ import annotations

import pytest

from kindfleet.platform.hub.service import submit


def test_ids_are_made_in_order_and_well_formed() -> None:
    ids = [submit.new_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(submit.valid_id(i) for i in ids)


def test_a_clock_that_steps_back_or_stands_still_repeats_no_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    times = iter([1_700_000_000.0] * 1000 + [1_600_000_000.0] * 1000 + [1_700_000_000.0] * 1000)
    monkeypatch.setattr(submit.time, "time", lambda: next(times))
    ids = [submit.new_id() for _ in range(3000)]
    assert len(set(ids)) == 3000
    assert all(submit.valid_id(i) for i in ids)


def test_ids_after_the_stores_greatest_are_greater_even_at_the_top_of_the_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(submit, "_ids", {"last": 0})
    greatest = "wl-" + "e" * 20  # an old store's random id, far ahead of the clock
    submit.ids_after(greatest)
    submit.ids_after("wl-" + "0" * 20)  # a lower one changes nothing
    ids = [submit.new_id() for _ in range(100)]
    assert min(ids) > greatest and ids == sorted(ids)
    submit.ids_after("wl-" + "f" * 20)  # nothing above it in the form: random ids, valid
    top = [submit.new_id() for _ in range(100)]
    assert all(submit.valid_id(i) for i in top) and len(set(top)) == 100
