"""What the hub's dashboard is told of the fleet's faults: every live one, the newest
cleared ones while room is left, in the order they were injected, never their undo data."""

from __future__ import annotations

from kindfleet.faults import FaultRecord, report
from kindfleet.faults.records import ACTIVE, CLEARED
from kindfleet.platform.wire import MAX_FAULTS


def record(n: int, state: str, **kw: object) -> FaultRecord:
    return FaultRecord(
        id=f"f-{n:06x}",
        action="slow" if n % 2 else "pause",
        cluster=f"spoke-{n % 3}",
        role="spoke",
        provider="local",
        injected_at=1_700_000_000.0 + n,
        state=state,
        latency_ms=150,
        loss_percent=2.5,
        undo={"secret": "node internals"},
        **kw,  # type: ignore[arg-type]
    )


def test_live_faults_always_fit_and_the_newest_cleared_fill_the_rest():
    records = [record(n, CLEARED, cleared_at=1_700_000_100.0 + n) for n in range(MAX_FAULTS + 50)]
    records.insert(3, record(10_000, ACTIVE, until=1_700_000_500.0))
    sent = report("viz", records, now=1_700_000_200.0)
    assert len(sent.faults) == MAX_FAULTS
    live = [f for f in sent.faults if f.state == "active"]
    assert [f.id for f in live] == [f"f-{10_000:06x}"]
    assert live[0].until is not None and live[0].until.timestamp() == 1_700_000_500.0
    cleared = [f for f in sent.faults if f.state == "cleared"]
    assert cleared[-1].id == f"f-{MAX_FAULTS + 49:06x}"  # the newest kept, the oldest dropped
    stamps = [f.injected_at for f in sent.faults]
    assert stamps == sorted(stamps)
    assert "node internals" not in sent.model_dump_json()


def test_a_slow_fault_says_how_slow():
    (note,) = report("viz", [record(1, ACTIVE)], now=1_700_000_002.0).faults
    assert (note.action, note.detail) == ("slow", "150 ms, 2.5% loss")
    (paused,) = report("viz", [record(2, ACTIVE)]).faults
    assert paused.detail == ""


def test_a_time_no_datetime_holds_is_sent_as_none_not_a_crash():
    """`--for 100000000h` once recorded an end in year 13434: every later report failed."""
    (note,) = report("viz", [record(3, ACTIVE, until=3.6e11, cleared_at=float("nan"))]).faults
    assert note.until is None and note.cleared_at is None
