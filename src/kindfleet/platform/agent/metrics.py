"""Workloads report their own numbers (loss, throughput) by writing JSON lines to
`$KINDFLEET_METRICS_FILE` or printing `KINDFLEET_METRIC name=value ...` on stdout. Only
numbers may leave the spoke, so parsing is strict: a value that is not a finite number, or a
name that could smuggle text (odd characters, too long), is dropped rather than forwarded.
Pure functions and a line splitter; reading the files is the executor's job.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping

STDOUT_PREFIX = "KINDFLEET_METRIC"
MAX_NAME = 128
MAX_PER_POINT = 64  # TelemetryPoint.metrics holds at most this many
# A run's metrics per sample, at most: a run that writes a new name per line had its agent
# send 160,000 values in 8 s (2,500 points to the hub's store, kept a day). Past it, the
# names that sort first are kept, the same ones every sample.
MAX_PER_SAMPLE = 4 * MAX_PER_POINT
MAX_LINE = 64 * 1024

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$")


def clean(name: object, value: object) -> tuple[str, float] | None:
    """(name, value) when both are fit to leave the spoke, else None."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return (name, number) if math.isfinite(number) else None


def parse_json_line(line: str) -> dict[str, float]:
    """`{"loss": 0.5, "step": 10}` -> its numeric fields; anything else -> {}."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return dict(item for k, v in data.items() if (item := clean(k, v)) is not None)


def parse_stdout_line(line: str) -> dict[str, float]:
    """`KINDFLEET_METRIC loss=0.5 step=10` -> {"loss": 0.5, "step": 10.0}; other lines -> {}."""
    words = line.split()
    if not words or words[0] != STDOUT_PREFIX:
        return {}
    found: dict[str, float] = {}
    for word in words[1:]:
        name, sep, text = word.partition("=")
        if not sep:
            continue
        try:
            value = float(text)
        except ValueError:
            continue
        if (item := clean(name, value)) is not None:
            found[item[0]] = item[1]
    return found


def chunks(metrics: Mapping[str, float]) -> list[dict[str, float]]:
    """Split into dicts small enough for one TelemetryPoint each, names in sorted order;
    at most MAX_PER_SAMPLE names in all."""
    names = sorted(metrics)[:MAX_PER_SAMPLE]
    return [
        {n: metrics[n] for n in names[i : i + MAX_PER_POINT]}
        for i in range(0, len(names), MAX_PER_POINT)
    ]


class LineSplitter:
    """Bytes in, complete text lines out; the unfinished tail is kept for the next feed.

    A line longer than `max_line` is dropped whole (a workload printing a huge line must not
    make the agent hold it in memory).
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._tail = b""
        self._skipping = False

    def feed(self, data: bytes) -> list[str]:
        parts = (self._tail + data).split(b"\n")
        self._tail = parts.pop()
        lines: list[str] = []
        for part in parts:
            if self._skipping:
                self._skipping = False
                continue
            if len(part) <= self.max_line:
                lines.append(part.decode("utf-8", errors="replace"))
        if len(self._tail) > self.max_line:
            self._tail = b""
            self._skipping = True
        return lines


def merge(found: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Latest value per name, as a scrape would see it."""
    merged: dict[str, float] = {}
    for item in found:
        merged.update(item)
    return merged
