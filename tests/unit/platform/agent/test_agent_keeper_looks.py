"""When a keeper looks at its run's logs and memory: a look due soon is taken with one due
now, but only the slow looks of quiet runs move. Taking every look due within half a second
at once put a new run's first look at its log (50 ms) off to 2 s: `yes` writes 650 MiB by
then."""

from __future__ import annotations

from kindfleet.platform.agent.executors.process.keeper import TOGETHER, _due


def test_a_quick_look_keeps_its_time() -> None:
    started = 100.0
    first = started + 0.05  # a new run's first look at its log
    assert not _due(first, started, now=started)  # not at the start, with the launch
    assert not _due(first, started, now=started + 0.03)
    assert _due(first, started, now=started + 0.04)  # within a quarter of its 50 ms
    assert _due(first, started, now=first)


def test_a_slow_look_is_taken_with_another_due_now() -> None:
    looked = 100.0
    quiet = looked + 2.0  # a quiet run's next look
    assert _due(quiet, looked, now=quiet - TOGETHER)  # taken up to half a second early
    assert not _due(quiet, looked, now=quiet - TOGETHER - 0.01)
