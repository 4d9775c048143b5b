"""Where pending work goes, and why it has not gone anywhere yet.

Placement is the part of the hub most worth getting exactly right and the easiest to get
wrong under load, so it is a pure function over plain values: the pending queue, the
spokes as the hub sees them, a policy. No store, no clock, no I/O; the service feeds it
rows and writes back its decisions, the property tests feed it random fleets. The same
rules answer `kindfleet explain`, so "why is my workload still pending?" is always the
reason placement itself applied.

Invariant: a spoke's allocation (the sum of requests of its Assigned and Running work)
never exceeds its capacity in any dimension; work that fits nowhere stays queued and
does not block smaller work behind it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kindfleet.platform.wire import (
    Explanation,
    Selector,
    SelectorOp,
    SpokeHealth,
    SpokeVerdict,
    WorkloadState,
)
from kindfleet.units import format_cpu


class Policy(enum.StrEnum):
    SPREAD = "spread"  # most free share first: even load, room for the next big job
    BINPACK = "binpack"  # least free share that fits: keep whole spokes free


@dataclass(frozen=True, slots=True)
class Amount:
    """Resources in exact integers: millicores, bytes, whole GPUs."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    gpus: int = 0

    def __add__(self, other: Amount) -> Amount:
        return Amount(
            self.cpu_millis + other.cpu_millis,
            self.memory_bytes + other.memory_bytes,
            self.gpus + other.gpus,
        )

    def __sub__(self, other: Amount) -> Amount:
        return Amount(
            self.cpu_millis - other.cpu_millis,
            self.memory_bytes - other.memory_bytes,
            self.gpus - other.gpus,
        )

    def within(self, other: Amount) -> bool:
        return (
            self.cpu_millis <= other.cpu_millis
            and self.memory_bytes <= other.memory_bytes
            and self.gpus <= other.gpus
        )


@dataclass(frozen=True, slots=True)
class Demand:
    """One pending workload as placement needs it."""

    workload: str
    request: Amount
    selector: Selector = field(default_factory=Selector)
    priority: int = 0
    order: int = 0  # submission order: lower was submitted earlier
    avoid: frozenset[str] = frozenset()  # spokes that rejected it


@dataclass(frozen=True, slots=True)
class SpokeView:
    """One spoke as placement needs it."""

    name: str
    labels: Mapping[str, str]
    capacity: Amount
    allocated: Amount
    health: SpokeHealth
    approved: bool = True  # joined with the fleet-wide token: no work until approved
    draining: bool = False  # running work finishes, nothing new comes

    @property
    def free(self) -> Amount:
        return self.capacity - self.allocated

    @property
    def takes_work(self) -> bool:
        return self.health is SpokeHealth.READY and self.approved and not self.draining


@dataclass(frozen=True, slots=True)
class Placement:
    workload: str
    spoke: str


def queue_order(demand: Demand) -> tuple[int, int]:
    """Higher priority first, then submission order."""
    return (-demand.priority, demand.order)


def place(
    demands: Iterable[Demand], spokes: Sequence[SpokeView], policy: Policy
) -> list[Placement]:
    """Decide which pending work goes where, in queue order, never over-committing."""
    free = {s.name: s.free for s in spokes}
    placements: list[Placement] = []
    for demand in sorted(demands, key=queue_order):
        chosen = choose(demand, spokes, free, policy)
        if chosen is None:
            continue  # stays queued; smaller work behind it still gets its chance
        free[chosen.name] = free[chosen.name] - demand.request
        placements.append(Placement(demand.workload, chosen.name))
    return placements


def choose(
    demand: Demand, spokes: Sequence[SpokeView], free: Mapping[str, Amount], policy: Policy
) -> SpokeView | None:
    """The spoke the policy picks for `demand` given what is `free` now; None: none fits."""
    candidates = [s for s in spokes if not _lacks(demand, s, free[s.name])]
    if not candidates:
        return None
    return _pick(demand, candidates, free, policy)


def _pick(
    demand: Demand, candidates: list[SpokeView], free: Mapping[str, Amount], policy: Policy
) -> SpokeView:
    def share(spoke: SpokeView) -> float:
        return free_share(free[spoke.name], spoke.capacity, gpu=demand.request.gpus > 0)

    if policy is Policy.BINPACK:
        return min(candidates, key=lambda s: (share(s), s.name))
    return min(candidates, key=lambda s: (-share(s), s.name))


def free_share(free: Amount, capacity: Amount, *, gpu: bool) -> float:
    """Mean free fraction over the dimensions a workload asks for (GPUs only if it does)."""
    pairs = [(free.cpu_millis, capacity.cpu_millis), (free.memory_bytes, capacity.memory_bytes)]
    if gpu:
        pairs.append((free.gpus, capacity.gpus))
    return sum(f / c if c > 0 else 0.0 for f, c in pairs) / len(pairs)


def _lacks(demand: Demand, spoke: SpokeView, free: Amount) -> bool:
    """True when the spoke cannot take the demand (the fast path of `verdict`)."""
    return (
        not spoke.takes_work
        or spoke.name in demand.avoid
        or not demand.request.within(free)
        or bool(selector_mismatches(demand.selector, spoke.labels))
    )


# ---------------------------------------------------------------- explain


def verdict(demand: Demand, spoke: SpokeView) -> SpokeVerdict:
    """Whether `spoke` could take `demand` now, and every reason it cannot."""
    reasons: list[str] = []
    if spoke.health is not SpokeHealth.READY:
        reasons.append(f"spoke {spoke.health.value}")
    if not spoke.approved:
        reasons.append("spoke awaits approval (kindfleet spokes approve)")
    if spoke.draining:
        reasons.append("spoke is draining")
    reasons += selector_mismatches(demand.selector, spoke.labels)
    if spoke.name in demand.avoid:
        reasons.append("spoke rejected this workload before")
    reasons += resource_shortfalls(demand.request, spoke.free, spoke.capacity)
    return SpokeVerdict(spoke=spoke.name, fits=not reasons, reasons=reasons)


def resource_shortfalls(request: Amount, free: Amount, capacity: Amount | None = None) -> list[str]:
    """What is missing, in words; says so when even an empty spoke could never hold it."""
    gpu_noun = "GPU" if request.gpus == 1 else "GPUs"
    cap = capacity or Amount(-1, -1, -1)  # unknown capacity: never "never fits"
    rows: list[tuple[int, int, int, Callable[[int], str], str]] = [
        (request.cpu_millis, free.cpu_millis, cap.cpu_millis, format_cpu, "cpu"),
        (request.memory_bytes, free.memory_bytes, cap.memory_bytes, format_bytes, "memory"),
        (request.gpus, free.gpus, cap.gpus, str, gpu_noun),
    ]
    reasons = []
    for need, have, total, shown, noun in rows:
        if need > have:
            text = f"needs {shown(need)} {noun}, {shown(max(have, 0))} free"
            if total >= 0 and need > total:
                text += f" ({shown(total)} in all: it never fits here)"
            reasons.append(text)
    return reasons


def format_bytes(size: int) -> str:
    """Exact when it can be (512Mi), else one decimal of the largest unit (1.5Gi)."""
    for suffix, factor in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size >= factor:
            whole, rest = divmod(size, factor)
            return f"{whole}{suffix}" if rest == 0 else f"{size / factor:.1f}{suffix}"
    return f"{size}B"


def selector_mismatches(selector: Selector, labels: Mapping[str, str]) -> list[str]:
    """Every term of the selector the labels fail, in words; empty when it matches."""
    reasons = []
    for key, want in selector.match_labels.items():
        have = labels.get(key)
        if have != want:
            reasons.append(f"label {key}={want} does not match ({_shown(key, have)})")
    for expr in selector.match_expressions:
        have = labels.get(expr.key)
        values = ", ".join(expr.values)
        if expr.operator is SelectorOp.IN and have not in expr.values:
            reasons.append(
                f"label {expr.key} in ({values}) does not match ({_shown(expr.key, have)})"
            )
        elif expr.operator is SelectorOp.NOT_IN and have is not None and have in expr.values:
            reasons.append(f"label {expr.key} not in ({values}) does not match ({expr.key}={have})")
        elif expr.operator is SelectorOp.EXISTS and have is None:
            reasons.append(f"label {expr.key} must exist ({expr.key} not set)")
        elif expr.operator is SelectorOp.DOES_NOT_EXIST and have is not None:
            reasons.append(f"label {expr.key} must not exist ({expr.key}={have})")
    return reasons


def _shown(key: str, value: str | None) -> str:
    return f"{key} not set" if value is None else f"{key}={value}"


@dataclass(frozen=True, slots=True)
class QueueSpot:
    position: int  # 1 = next to be placed
    length: int


def explain_pending(
    demand: Demand, spokes: Sequence[SpokeView], spot: QueueSpot, *, deadline_in: float | None
) -> Explanation:
    """Why a Pending workload waits: each spoke's verdict, its place in the queue."""
    verdicts = [verdict(demand, s) for s in sorted(spokes, key=lambda s: s.name)]
    fitting = [v.spoke for v in verdicts if v.fits]
    where = f"position {spot.position} of {spot.length} in the queue"
    if not spokes:
        summary = f"no spoke is registered yet; it waits ({where})"
    elif fitting:
        summary = (
            f"fits on {', '.join(fitting)}; it goes there on the next placement pass "
            f"unless work ahead of it takes the room first ({where})"
        )
    else:
        summary = f"no spoke can take it now ({len(spokes)} considered); it waits ({where})"
    if deadline_in is not None:
        summary += f"; gives up in {max(deadline_in, 0.0):.0f}s if still not placed"
    return Explanation(
        workload=demand.workload,
        state=WorkloadState.PENDING,
        queue_position=spot.position,
        queue_length=spot.length,
        considered=verdicts,
        summary=summary,
    )
