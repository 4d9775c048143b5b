"""Durations as people write them on a command line (`60s`, `2m`, `1h30m`, `500ms`, `90`),
as seconds. Pure; a bad one is a `UsageError` that shows how to write it.

A `--for` is capped (`MAX_HOLD`): its end is a moment kept in the fault records and told
to the hub, and one past year 9999 broke every later `fault` command; a fault meant to
last for ever is one without `--for`."""

from __future__ import annotations

import re

from kindfleet.errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
HOW = "write e.g. 60s, 2m, 1h30m or 500ms"
MAX_HOLD = 7 * 86400.0  # the longest `--for`: a week


def parse_duration(text: str, *, what: str = "--for", most: float | None = None) -> float:
    """Seconds in `text`; a bare number is seconds. More than 0, and at most `most`."""
    raw = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        seconds = float(raw)
    elif raw and _PART.sub("", raw) == "":
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(raw))
    else:
        raise UsageError(f"{what} {text!r} is not a duration", hint=HOW)
    if seconds <= 0:
        raise UsageError(f"{what} {text!r} must be more than 0", hint=HOW)
    if most is not None and not seconds <= most:  # `not <=`: an overflow to inf is too long
        held = "; a fault without --for stays until `kindfleet fault clear`"
        raise UsageError(
            f"{what} {text!r} is out of range: it must be more than 0 and at most {most / 3600:g}h",
            hint=HOW + (held if what == "--for" else ""),
        )
    return seconds


def format_duration(seconds: float) -> str:
    """`1h02m`, `2m30s`, `45s`, `1.5s`: short and exact enough for a person."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def parse_percent(text: str, *, what: str = "--loss") -> float:
    """`5%`, `5`, `0.5%` -> 5.0, 5.0, 0.5; between 0 and 100."""
    raw = text.strip().removesuffix("%")
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a percentage", hint="write e.g. 5%") from None
    if not 0 <= value <= 100:
        raise UsageError(f"{what} {text!r} must be between 0% and 100%", hint="write e.g. 5%")
    return value
