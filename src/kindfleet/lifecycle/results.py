"""What `up` and `down` hand back: per cluster, what was done, how long it took, what failed.

A failure of some clusters raises `PartialFailure` (exit 4), of every cluster
`ClustersFailed` (exit 1); both carry the full result, so scripts and tests see the
clusters that did come up as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from kindfleet.errors import KindfleetError, PartialFailure
from kindfleet.lifecycle.timings import Timings

Action = Literal["create", "recreate", "keep", "repair", "rejoin", "check", "delete", "leave"]


class Words(NamedTuple):
    """How `up` speaks of an action: the word a cluster's progress line ends with, and the
    one the summary counts it by ("fleet f is up: 3 clusters in 41.2s (created 2, kept 1)")."""

    done: str
    summary: str


WORDS: Mapping[str, Words] = {
    "create": Words("up", "created"),
    "recreate": Words("made anew", "made anew"),
    "repair": Words("repaired", "repaired"),
    "rejoin": Words("rejoined", "rejoined"),
    "keep": Words("kept", "kept"),
    "check": Words("reachable", "checked"),
}


NOT_THERE = "did not exist"  # a delete's note: nothing was removed
NOT_IN_FILE = "not in the fleet file"  # a delete's note: removed with the fleet all the same
NOT_OURS = "not this fleet's: left alone"  # a cluster of its name that is somebody else's


def strays_message(fleet: str, names: Sequence[str], *, removing: bool = False) -> str:
    """What a person must know of clusters the fleet has and its file does not name."""
    which = ", ".join(names)
    if removing:
        return f"also removing {which}: up in fleet {fleet}, not named in this fleet file"
    return (
        f"fleet {fleet} also has {which}, which this fleet file does not name (removed from "
        f"it since, or brought up from another fleet file named {fleet}: the fleet is one, by "
        f"its name); `kindfleet down` removes {'it' if len(names) == 1 else 'them'} with the "
        f"rest of the fleet, or give that other file another name"
    )


@dataclass(frozen=True)
class ClusterOutcome:
    name: str
    action: Action
    ok: bool
    seconds: float
    error: str | None = None
    removed: bool = False  # failed, and what had been made of it was removed
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpResult:
    fleet: str
    provider: str
    outcomes: tuple[ClusterOutcome, ...]
    seconds: float
    registry_created: bool = False
    kubeconfig: Path | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # what a person must know (e.g. the hub moved)
    timings: Timings | None = None  # when asked for: per cluster and step, peak memory

    @property
    def failed(self) -> dict[str, str]:
        return {o.name: o.error or "failed" for o in self.outcomes if not o.ok}

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "timings"}
        return with_timings(data, self.outcomes, self.timings)


def with_timings(
    data: dict[str, Any], outcomes: Sequence[ClusterOutcome], timings: Timings | None
) -> dict[str, Any]:
    """`data` (a result's fields) with its timings, when they were taken."""
    if timings is not None:
        data["timings"] = timings.to_dict({o.name: o.seconds for o in outcomes})
    return data


class ClustersFailed(KindfleetError):
    """Every cluster the operation touched failed; `failed` names them, `result` has all."""

    def __init__(self, message: str, *, failed: dict[str, str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.failed = failed


class UpPartialFailure(PartialFailure):
    def __init__(self, message: str, *, result: UpResult, hint: str | None = None) -> None:
        super().__init__(message, failed=result.failed, hint=hint)
        self.result = result


class UpFailed(ClustersFailed):
    def __init__(self, message: str, *, result: UpResult, hint: str | None = None) -> None:
        super().__init__(message, failed=result.failed, hint=hint)
        self.result = result


SHOWN_LINES = 30


def failure_message(verb: str, failed: Mapping[str, str], total: int) -> str:
    """One line naming the failed clusters, then each one's error: its first line and its
    last lines (where kind and kubeadm say what went wrong), the middle elided."""
    names = ", ".join(failed)
    lines = [f"{len(failed)} of {total} clusters failed to {verb}: {names}"]
    for name, error in failed.items():
        first, *rest = error.splitlines() or ["failed"]
        lines.append(f"  {name}: {first}")
        if len(rest) > SHOWN_LINES:
            rest = [f"... ({len(rest) - SHOWN_LINES} lines)", *rest[-SHOWN_LINES:]]
        lines += [f"  {line}" for line in rest]
    return "\n".join(lines)
