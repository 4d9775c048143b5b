"""What a page shows, built from the service's reads: charts, the faults that touch each
spoke, the filters of the workload list. Pure functions of wire models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kindfleet.platform.hub.ui import charts
from kindfleet.platform.hub.ui.format import number, size
from kindfleet.platform.wire import Activity, FaultBoard, FaultNote, TelemetrySeries

# Charted first, in this order; any other metric a workload emits follows, by name.
FIRST = ("loss", "step", "cpu_cores", "rss_bytes")
SKIPPED = frozenset({"elapsed_seconds", "gpus"})  # a straight line and a constant
MAX_CHARTS = 8
TITLES = {"cpu_cores": "cpu (cores)", "rss_bytes": "memory (RSS)"}


@dataclass(frozen=True, slots=True)
class Latest:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Telemetry:
    charts: list[charts.LineChart] = field(default_factory=list)
    latest: list[Latest] = field(default_factory=list)
    points: int = 0


def telemetry(series: Sequence[TelemetrySeries]) -> Telemetry:
    """One chart per metric; one line per attempt (a retry starts a line of its own)."""
    by_metric: dict[str, dict[int, list[tuple[float, float]]]] = {}
    count = 0
    for s in series:
        for point in s.points:
            count += 1
            generation = point.generation or 0
            for name, value in point.metrics.items():
                if name not in SKIPPED:
                    lines = by_metric.setdefault(name, {})
                    lines.setdefault(generation, []).append((point.at.timestamp(), value))
    names = [n for n in FIRST if n in by_metric] + sorted(set(by_metric) - set(FIRST))
    drawn, latest = [], []
    for name in names[:MAX_CHARTS]:
        attempts = [sorted(pts) for _, pts in sorted(by_metric[name].items())]
        shown = size if name == "rss_bytes" else number
        title = TITLES.get(name, name)
        drawn.append(charts.line_chart(title, attempts, fmt=shown, x_from_start=True))
        latest.append(Latest(title, shown(attempts[-1][-1][1])))
    return Telemetry(drawn, latest, count)


@dataclass(frozen=True, slots=True)
class Throughput:
    submitted: charts.BarChart
    placed: charts.BarChart
    states: charts.LineChart
    last_minute: dict[str, int]


def throughput(activity: Activity) -> Throughput:
    points = activity.points
    xs = [p.at.timestamp() for p in points]
    step = activity.interval_seconds
    minute = [p for p in points if p.at.timestamp() > (xs[-1] if xs else 0) - 60]
    finished = points[-1].finished - minute[0].finished if len(minute) > 1 else 0
    return Throughput(
        submitted=charts.bar_chart(
            "Submitted per interval",
            [(x, p.submitted) for x, p in zip(xs, points, strict=True)],
            width_x=step,
        ),
        placed=charts.bar_chart(
            "Placed per interval",
            [(x, p.placed) for x, p in zip(xs, points, strict=True)],
            width_x=step,
        ),
        states=charts.line_chart(
            "Pending, running and finished",
            [
                [(x, float(p.pending)) for x, p in zip(xs, points, strict=True)],
                [(x, float(p.active)) for x, p in zip(xs, points, strict=True)],
                [(x, float(p.finished)) for x, p in zip(xs, points, strict=True)],
            ],
        ),
        last_minute={
            "submitted": sum(p.submitted for p in minute),
            "placed": sum(p.placed for p in minute),
            "finished": max(0, finished),
        },
    )


# The fleet page is fetched again every 2 s: a report at its cap (500 faults, notes of 1 KiB
# each, escaped) made it 1 MB a fetch. It shows the first rows and the start of each text;
# `kindfleet fault list` has every fault whole.
FAULTS_SHOWN = 50
TEXT_SHOWN = 200


def live_faults(board: FaultBoard) -> list[FaultNote]:
    return [f for f in board.report.faults if f.state != "cleared"]


def faults_by_cluster(board: FaultBoard) -> dict[str, list[FaultNote]]:
    """Live faults by the cluster they were injected into."""
    found: dict[str, list[FaultNote]] = {}
    for note in live_faults(board):
        found.setdefault(note.cluster, []).append(note)
    return found
