"""Charts drawn on the hub as SVG: no chart library in the page, nothing to execute.

A chart is a value (paths, ticks, labels) that a template turns into `<svg>` with a title
and a description, so a screen reader hears what it shows and the page stays within a
CSP that allows no inline script or style (colours come from the stylesheet's classes).
A series is downsampled to at most `MAX_POINTS` by keeping each bucket's first, lowest,
highest and last point, so a spike survives and a 2,000-point run draws fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kindfleet.platform.hub.ui.format import number

WIDTH, HEIGHT = 480, 160
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 10, 24
MAX_POINTS = 240


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # pixel
    label: str


@dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    summary: str  # what a screen reader hears: range and last value
    paths: list[str]  # one per series
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    summary: str
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT


def downsample(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_POINTS:
        return list(points)
    size = len(points) / (MAX_POINTS / 4)
    out: list[tuple[float, float]] = []
    start = 0.0
    while int(start) < len(points):
        bucket = points[int(start) : int(start + size)] or points[int(start) :][:1]
        picks = {0, len(bucket) - 1}
        values = [v for _, v in bucket]
        picks.add(values.index(min(values)))
        picks.add(values.index(max(values)))
        out += [bucket[i] for i in sorted(picks)]
        start += size
    return out


def _scale(lo: float, hi: float) -> tuple[float, float]:
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        return max(lo - pad, -_LARGEST), min(hi + pad, _LARGEST)
    return lo, hi


# Axes are computed on halves: a spoke may report any finite float, and 1e308 - (-1e308)
# is inf, which drew y="nan" (found from outside).
_LARGEST = sys.float_info.max


def _share(v: float, lo: float, hi: float) -> float:
    """Where `v` is between `lo` and `hi`, 0 to 1, for any finite floats."""
    span = hi / 2 - lo / 2
    return (v / 2 - lo / 2) / span if span else 0.0


def _mid(lo: float, hi: float) -> float:
    return lo / 2 + hi / 2


def line_chart(
    title: str,
    series: Sequence[Sequence[tuple[float, float]]],
    *,
    fmt: Callable[[float], str] = number,
    x_from_start: bool = False,
) -> LineChart:
    """Lines of (x, y) points sharing axes, x in seconds: the ticks count from the first
    point (`x_from_start`: a run's time) or back from the last (the last minutes)."""
    drawn = [downsample(s) for s in series if s]
    xs = [x for s in drawn for x, _ in s]
    ys = [y for s in drawn for _, y in s]
    if not xs:
        return LineChart(title, f"{title}: no points yet", [], [], [])
    x0, x1 = _scale(min(xs), max(xs))
    y0, y1 = _scale(min(ys), max(ys))
    px, py = _axes(x0, x1, y0, y1)
    paths = [
        " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(s))
        for s in drawn
    ]
    summary = (
        f"{title}: from {fmt(min(ys))} to {fmt(max(ys))} over {max(xs) - min(xs):.0f} "
        f"seconds; latest {fmt(drawn[-1][-1][1])}"
    )
    return LineChart(
        title,
        summary,
        paths,
        _y_ticks(py, y0, y1, fmt),
        _x_ticks(px, x0, x1, from_start=x_from_start),
    )


def bar_chart(title: str, bars: Sequence[tuple[float, float]], *, width_x: float) -> BarChart:
    """Bars of (x, value), each `width_x` wide in x units, from 0 up."""
    if not bars:
        return BarChart(title, f"{title}: no intervals yet", [], [], [])
    x0, x1 = bars[0][0] - width_x, bars[-1][0]
    top = max(v for _, v in bars) or 1.0
    px, py = _axes(x0, x1, 0.0, top)
    drawn = [
        Bar(
            px(x - width_x) + 0.5,
            py(v),
            max(px(x) - px(x - width_x) - 1, 1),
            py(0) - py(v),
            number(v),
        )
        for x, v in bars
    ]
    total = sum(v for _, v in bars)
    summary = (
        f"{title}: {number(total)} in {x1 - x0:.0f} seconds, at most {number(top)} in one interval"
    )
    return BarChart(title, summary, drawn, _y_ticks(py, 0.0, top, number), _x_ticks(px, x0, x1))


def _axes(
    x0: float, x1: float, y0: float, y1: float
) -> tuple[Callable[[float], float], Callable[[float], float]]:
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + _share(x, x0, x1) * inner_w

    def py(y: float) -> float:
        return TOP + (1 - _share(y, y0, y1)) * inner_h

    return px, py


def _y_ticks(
    py: Callable[[float], float], y0: float, y1: float, fmt: Callable[[float], str]
) -> list[Tick]:
    return [Tick(py(v), fmt(v)) for v in (y0, _mid(y0, y1), y1)]


def _x_ticks(
    px: Callable[[float], float], x0: float, x1: float, *, from_start: bool = False
) -> list[Tick]:
    """Seconds since the first point, or before the latest ("now")."""
    at = (x0, _mid(x0, x1), x1)
    if from_start:
        return [Tick(px(v), f"{v - x0:.0f}s") for v in at]
    return [Tick(px(v), "latest" if v == x1 else f"-{x1 - v:.0f}s") for v in at]
