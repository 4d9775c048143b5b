"""What leaves the spoke: status events and telemetry points, valid on the wire."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kindfleet.platform.agent import outbox, reports
from kindfleet.platform.agent.outbox import Entry
from kindfleet.platform.wire import EventType, StatusEvent

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _entry(seq: int, kind, body) -> Entry:
    return Entry(seq, kind, outbox.row(seq, kind, body)[2])  # stored as the outbox stores it


def test_batch_keeps_each_entry_with_its_own_seq():
    entries = [
        _entry(4, "event", reports.status("w1", 2, EventType.STARTED, at=AT)),
        _entry(5, "telemetry", reports.telemetry({"cpu_cores": 0.5}, workload="w1", generation=2)),
        _entry(6, "event", reports.status("w1", 2, EventType.FAILED, exit_code=3, reason="X")),
    ]
    batch = reports.batch(entries)
    assert [e.seq for e in batch.events] == [4, 6]
    assert [t.seq for t in batch.telemetry] == [5]
    assert batch.events[0].at == AT
    assert batch.events[1].exit_code == 3
    assert batch.telemetry[0].metrics == {"cpu_cores": 0.5}


def test_long_reasons_and_messages_are_cut_to_the_wire_limits():
    body = reports.status("w", 1, EventType.FAILED, reason="R" * 100, message="m" * 5000)
    assert len(body["reason"]) == 64
    assert len(body["message"]) == 1024
    assert "seq" not in body


@pytest.mark.parametrize(
    ("at", "fields"),
    [
        (AT, {}),
        (datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), {"exit_code": 0}),
        (AT, {"exit_code": 137, "reason": "R" * 80, "message": "m\u00e9" * 900}),
    ],
)
def test_a_status_body_is_what_the_wire_model_writes(at, fields):
    """Built without the model (it runs three times per run): the model must agree."""
    body = reports.status("wl-1", 3, EventType.FAILED, at=at, **fields)
    model = StatusEvent.model_validate({**body, "seq": 1})
    assert model.model_dump(mode="json", exclude={"seq"}) == body


def test_now_is_written_as_the_wire_model_writes_it():
    before = datetime.now(UTC)
    body = reports.status("wl-1", 1, EventType.STARTED)
    model = StatusEvent.model_validate({**body, "seq": 1})
    assert before <= model.at <= datetime.now(UTC)
    assert model.model_dump(mode="json", exclude={"seq"}) == body
