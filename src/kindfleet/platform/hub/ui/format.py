"""How numbers and times read on the dashboard: pure functions, used as template filters."""

from __future__ import annotations

from datetime import UTC, datetime


def cores(millis: int) -> str:
    """1500 -> '1.5', 250 -> '0.25' (cores, as an operator counts them)."""
    return f"{millis / 1000:.3f}".rstrip("0").rstrip(".") or "0"


def size(n: float) -> str:
    """Bytes in the largest binary unit that keeps a number >= 1: '512 MiB', '1.5 GiB'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            text = f"{value:.1f}".rstrip("0").rstrip(".") if unit != "B" else f"{value:.0f}"
            return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def share(used: float, total: float) -> int:
    """Percent used, 0-100 (0 when there is nothing)."""
    if total <= 0:
        return 0
    return max(0, min(100, round(100 * used / total)))


def clock(moment: datetime | None) -> str:
    """'14:03:27' in UTC (the hub's and the spokes' common time), '' for none."""
    return moment.astimezone(UTC).strftime("%H:%M:%S") if moment else ""


def stamp(moment: datetime | None) -> str:
    """The full UTC time, for a `datetime` attribute or a tooltip."""
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def ago(moment: datetime | None, now: datetime) -> str:
    """'4s ago', '3m ago', '2h ago'; 'never' for none."""
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "just now"
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{int(seconds // span)}{unit} ago"
    return f"{int(seconds)}s ago"


def number(value: float) -> str:
    """A metric value, short: 12, 0.4123, 1.2e+06."""
    if abs(value) < 1e12 and value == int(value):  # inf and nan are not below 1e12
        return str(int(value))
    return f"{value:.4g}"
