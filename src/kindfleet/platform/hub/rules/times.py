"""Time at the edges: the store keeps seconds since the epoch, the wire speaks datetimes.

A spoke may send any datetime it likes (naive, year 1, year 9999); these conversions make
every one of them a number the store can hold and the API can turn back into a datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# Times a spoke reports are clamped to this range, so any datetime converts both ways.
EARLIEST, LATEST = 0.0, 253402214400.0  # 1970-01-01 .. 9999-12-31


def epoch(moment: datetime, *, default: float) -> float:
    """Seconds since the epoch; a naive datetime is UTC; absurd ones are clamped."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return min(max(moment.timestamp(), EARLIEST), LATEST)
    except (OverflowError, OSError, ValueError):
        return default
