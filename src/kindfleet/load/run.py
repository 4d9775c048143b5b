"""`kindfleet load`: the article's `./scripts/load-test.sh --requests=10000 --spokes=5`
against a running fleet. Submits N small workloads, C in flight at once (at most R
per second when asked), spread over S of the fleet's spokes (a selector naming them),
watches every accepted one to the end, and measures: submit throughput and latency,
submit-to-start and end-to-end latency, per-spoke distribution, lost (accepted, never
finished) and duplicated (two submissions of one key accepted as two), and the memory of
the hub and the agents where the provider can see it.

Loads run beside failover drills (`kindfleet fault kill hub`): a hub that cannot be asked
is asked again until the run's deadline, and one still silent then leaves a result all
the same, whose `unchecked` workloads are neither lost nor succeeded but not known.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from kindfleet.errors import KindfleetError, UsageError
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.load import submitter
from kindfleet.platform.client import RETRIES, HubClient
from kindfleet.platform.wire import MAX_LABELS, Selector, Workload, WorkloadSpec, WorkloadState


class Target(Protocol):
    """What the load test needs of a fleet (`Fleet` is one): its spec and its hub (a
    client for the watcher, the address and token for the submissions)."""

    spec: FleetSpec

    def hub(self, *, timeout: float = 10.0, kubeconfig: Any = None) -> HubClient: ...

    def hub_address(self, *, kubeconfig: Any = None) -> tuple[str, str]: ...


# How often the watcher reads the hub's /metrics (per-state gauges, memory): the gauges
# change every 10 s (the hub's COUNT_EVERY), and rendering /metrics cost the hub about 7%
# of a core at two reads a second during the load it measures.
WATCH_EVERY = 2.0
MAX_REQUESTS = 10_000_000  # the run keeps every latency and id in memory
# Every workload of a run carries this label, the run's id its value: what the hub holds
# of a run is found by it, its answers read or not (an interrupted run counts by it).
LOAD_LABEL = "kindfleet.dev/load"
# After a stop, submissions the hub had read may still be stored: the count is taken
# again this often until two agree, for this long at most.
SETTLE_EVERY = 0.5
SETTLE_FOR = 5.0
COUNT_FOR = 10.0  # the longest one count of the run's workloads may take
# The run's workloads are listed again this often until every one has ended, or (a hub
# that cannot be asked: killed, paused, restarting) until the run's deadline.
LOOK_EVERY = 1.0
# One request of that listing may wait this long at most (pages of a large run on a busy
# hub), and as little as LIST_AT_LEAST near the deadline: a paused hub answers nothing,
# and each request is tried RETRIES times, so it must not hold the run minutes past it.
LIST_FOR = 120.0
LIST_AT_LEAST = 10.0


@dataclass
class LoadOptions:
    requests: int = 10_000
    spokes: int | None = None  # spread over this many of the fleet's spokes; None: all
    concurrency: int = 16
    rate: float | None = None  # submissions per second at most
    duration: float | None = None  # stop submitting after this many seconds
    spec: WorkloadSpec | None = None  # what to submit (default: a no-op)
    # How long to wait for every accepted workload to finish (a hub that cannot be asked
    # is waited for this long too: the run then ends with what it could not check).
    timeout: float = 900.0


@dataclass
class Progress:
    submitted: int = 0
    accepted: int = 0
    finished: int = 0
    target: int = 0
    # After a stop: `accepted` and `finished` are the hub's own count of the run's
    # workloads. Before, or when the hub could not be asked, they are the command's view:
    # answers it read (a submission in flight may be stored all the same) and the hub's
    # per-state gauge, which lags by up to 10 s.
    exact: bool = False
    in_flight: int = 0  # after a stop the hub could not be asked about: sent, unanswered
    label: str = ""  # KEY=VALUE: the label the run's workloads carry


@dataclass
class LoadResult:
    fleet: str
    requests: int
    accepted: int
    errors: dict[str, int]
    lost: int
    duplicated: int
    submit_seconds: float
    total_seconds: float  # the command's own time, its last look at the hub included
    # From the first submission the hub took to the last run's end, on the hub's clock:
    # what finished/s is of (the hub's per-state gauge, which the wait for the end
    # watches, refreshes every 10 s; the command's own time would count that wait).
    work_seconds: float = 0.0
    submit_latency_ms: list[float] = field(default_factory=list)
    start_latency_s: list[float] = field(default_factory=list)
    end_to_end_s: list[float] = field(default_factory=list)
    per_spoke: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    timeline: list[tuple[float, int, int]] = field(default_factory=list)  # t, accepted, finished
    memory_bytes: dict[str, int] = field(default_factory=dict)
    # Accepted workloads whose end the hub could not be asked about by the deadline (it was
    # unreachable): neither lost nor succeeded. Why, and what the failure said to do.
    unchecked: int = 0
    unchecked_why: str = ""
    unchecked_hint: str = ""
    label: str = ""  # KEY=VALUE: the label the run's workloads carry (to list them later)

    def summary(self) -> dict[str, Any]:
        # Rates are of the seconds as shown (to the millisecond), so that anyone dividing
        # the report's own figures gets the report's rate, not one a rounding away from it.
        submit, work = round(self.submit_seconds, 3), round(self.work_seconds, 3)
        return {
            "fleet": self.fleet,
            "requests": self.requests,
            "accepted": self.accepted,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "unchecked": self.unchecked,
            "unchecked_why": self.unchecked_why,
            "label": self.label,
            "errors": self.errors,
            "submit_seconds": submit,
            "total_seconds": round(self.total_seconds, 3),
            "work_seconds": work,
            "submit_per_second": round(self.accepted / submit, 1) if submit else 0.0,
            "finished_per_second": round(self.states.get("Succeeded", 0) / work, 1)
            if work
            else 0.0,
            "submit_latency_ms": percentiles(self.submit_latency_ms),
            "submit_to_start_s": percentiles(self.start_latency_s),
            "end_to_end_s": percentiles(self.end_to_end_s),
            "per_spoke": self.per_spoke,
            "states": self.states,
            "memory_bytes": self.memory_bytes,
        }


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": round(ordered[-1], 4)}


def _default_spec(python: str) -> WorkloadSpec:
    return WorkloadSpec(
        name="load", command=[python, "-c", "pass"], resources={"cpu": "100m", "memory": "16Mi"}
    )


@dataclass
class _Tally:
    """What the submitters and the watcher record, under one lock."""

    began: float
    state: Progress
    latencies: list[float] = field(default_factory=list)
    accepted: dict[int, str] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    timeline: list[tuple[float, int, int]] = field(default_factory=list)
    peak: dict[str, int] = field(default_factory=dict)
    before: int = 0  # workloads the hub had finished when the run began
    sending: bool = False  # submissions may be in flight
    lock: threading.Lock = field(default_factory=threading.Lock)


def check(spec: FleetSpec, options: LoadOptions) -> list[str]:
    """The spokes to load, after checking the numbers asked for (before anything is made
    for the run: its report's folder)."""
    if options.requests < 1 or options.concurrency < 1:
        raise UsageError("--requests and --concurrency must be at least 1")
    if options.requests > MAX_REQUESTS:
        raise UsageError(
            f"--requests {options.requests}: at most {MAX_REQUESTS:,} in one run",
            hint="run several loads, or bound one by time with --duration",
        )
    if options.rate is not None and not (math.isfinite(options.rate) and options.rate > 0):
        raise UsageError(
            f"--rate {options.rate}: give submissions per second, above 0",
            hint="e.g. --rate 200; leave it out to submit as fast as the hub answers",
        )
    if options.duration is not None and not options.duration > 0:
        raise UsageError(
            f"--duration {options.duration}: give a time above 0",
            hint="e.g. --duration 60s; leave it out to submit every request",
        )
    if not options.timeout > 0:  # nan too: a wait that no deadline would end
        raise UsageError(
            f"--timeout {options.timeout}: give a time above 0",
            hint="e.g. --timeout 10m: how long to wait for the accepted work to end",
        )
    names = [s.name for s in spec.spokes]
    if options.spokes is not None and not 1 <= options.spokes <= len(names):
        raise UsageError(
            f"--spokes {options.spokes}: fleet {spec.name} has {len(names)} spokes",
            hint=f"give a number from 1 to {len(names)}",
        )
    return names[: options.spokes] if options.spokes else names


def run(
    target: Target,
    options: LoadOptions,
    *,
    python: str,
    memory: Callable[[], dict[str, int]] = dict,
    progress: Callable[[Progress], None] = lambda p: None,
) -> LoadResult:
    chosen = check(target.spec, options)
    # Keys of this run alone: two runs at once, or a run on a machine whose clock starts
    # where another's did, must not have their work taken for replays of the other's.
    run_id = secrets.token_hex(8)
    work = _labelled(options.spec or _default_spec(python), run_id)
    if len(chosen) < len(target.spec.spokes):
        work = _pinned(target, work, chosen)
    tally = _Tally(time.monotonic(), Progress(target=options.requests))
    tally.state.label = f"{LOAD_LABEL}={run_id}"
    progress(tally.state)  # the live tally, from the start: what an interrupted run says
    plan = submitter.Plan(
        requests=options.requests,
        concurrency=options.concurrency,
        key=lambda i: f"load-{run_id}-{i}",
        began=tally.began,
        rate=options.rate,
        stop_at=tally.began + options.duration if options.duration else None,
    )

    def done(i: int, workload: str | None, error: str | None, latency_ms: float) -> None:
        with tally.lock:
            tally.state.submitted += 1
            if workload is None:
                tally.errors[error or "HubRequestError"] += 1
                return
            tally.latencies.append(latency_ms)
            tally.accepted[i] = workload
            tally.state.accepted = len(tally.accepted)

    watching = threading.Event()

    def watch() -> None:
        with target.hub(timeout=60) as hub:
            while not watching.is_set():
                _sample(hub, tally, memory)
                progress(tally.state)
                watching.wait(WATCH_EVERY)

    try:
        url, token = target.hub_address()
        with target.hub(timeout=60) as hub:
            tally.before = _finished(hub) or 0  # what the hub had finished before this run
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        body = work.model_dump_json().encode()
        tally.sending = True
        _in_a_loop(submitter.submit_all(url, token, body, plan, done))
        tally.sending = False
        submit_seconds = time.monotonic() - tally.began
        deadline = time.monotonic() + options.timeout
        while tally.state.finished < len(tally.accepted) and time.monotonic() < deadline:
            time.sleep(0.2)
        watching.set()
        # a watcher in a request to a paused hub must not keep the run long past its end
        watcher.join(min(30.0, max(1.0, deadline - time.monotonic())))
        # The gauge counts the whole hub's work: another run's, finishing meanwhile, counts
        # too. Ours are looked at one by one until every one has ended (or time is up).
        look = _look_until_ended(target, tally, deadline)
    except KeyboardInterrupt:
        watching.set()
        _count_after_stop(target, run_id, tally, options.concurrency)
        progress(tally.state)
        raise
    return _collect(target, tally, options, submit_seconds, look)


def _labelled(work: WorkloadSpec, run_id: str) -> WorkloadSpec:
    """`work` with the run's label, by which the hub lists what it holds of the run."""
    if LOAD_LABEL in work.labels:  # it would be replaced: the run's work is found by it
        raise UsageError(
            f"--spec: the workload's label {LOAD_LABEL} is the load's own (each run gives its "
            "workloads their run's id under it)",
            hint=f"remove the label {LOAD_LABEL} from the workload",
        )
    if len(work.labels) >= MAX_LABELS:
        raise UsageError(
            f"--spec: the workload has {len(work.labels)} labels, the most a workload may "
            f"have, and the load adds one ({LOAD_LABEL})",
            hint="give the workload one label fewer",
        )
    return work.model_copy(update={"labels": {**work.labels, LOAD_LABEL: run_id}})


def _count_after_stop(target: Target, run_id: str, tally: _Tally, concurrency: int) -> None:
    """What an interrupted run leaves on the fleet, as the hub counts it: the run's own
    tally misses submissions whose answer was never read (the hub stored them all the
    same) and its finished figure is a gauge 10 s old. When the hub cannot be asked (or a
    second Ctrl-C stops the asking), the tally stays, with how many may be missing."""
    in_flight = min(concurrency, tally.state.target - tally.state.submitted)
    try:
        with target.hub(timeout=10) as hub:
            ours = _labelled_on(hub, run_id)
            # a submission the hub had read when the connection closed may still be stored
            settle = time.monotonic() + SETTLE_FOR
            while tally.sending and time.monotonic() < settle:
                time.sleep(SETTLE_EVERY)
                again = _labelled_on(hub, run_id)
                if len(again) == len(ours):
                    break
                ours = again
    except (KeyboardInterrupt, KindfleetError):  # the hub's trouble, or a second Ctrl-C
        with tally.lock:
            tally.state.in_flight = in_flight if tally.sending else 0
        return
    with tally.lock:
        tally.state.accepted = len({w.id for w in ours})
        tally.state.finished = len({w.id for w in ours if w.state.terminal})
        tally.state.in_flight = 0
        tally.state.exact = True


def _labelled_on(hub: HubClient, run_id: str) -> list[Workload]:
    """The run's workloads on the hub; a run too large to list in COUNT_FOR is counted as
    the command saw it (a Ctrl-C must not wait minutes for pages of a million workloads)."""
    deadline = time.monotonic() + COUNT_FOR
    found = []
    for workload in hub.iter_workloads(labels={LOAD_LABEL: run_id}, limit=1000):
        found.append(workload)
        if time.monotonic() > deadline:
            raise KindfleetError(f"more than {len(found)} workloads to count")
    return found


def _in_a_loop(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` to its end: in a loop of its own, on a thread of its own when the caller
    is in a running loop already (an async test calling the synchronous `Fleet.load`)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(work)
        return
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work).result()


def _pinned(target: Target, work: WorkloadSpec, chosen: list[str]) -> WorkloadSpec:
    """Work that may run on the chosen spokes only, by the labels that tell them apart."""
    others = [s for s in target.spec.spokes if s.name not in chosen]
    keys = {k for s in target.spec.spokes for k in s.labels}
    for key in sorted(keys):
        mine = {target.spec.cluster(n).labels.get(key) for n in chosen}
        theirs = {s.labels.get(key) for s in others}
        if None not in mine and not mine & theirs:
            expression = {"key": key, "operator": "In", "values": sorted(v for v in mine if v)}
            selector = Selector.model_validate({"match_expressions": [expression]})
            return work.model_copy(update={"selector": selector})
    raise UsageError(
        f"no label tells the first {len(chosen)} spokes ({', '.join(chosen)}) from the others",
        hint="give those spokes a label of their own in the fleet file, or leave out --spokes",
    )


def _finished(hub: HubClient) -> int | None:
    """Workloads the hub has seen end, all of them (its per-state gauge)."""
    try:
        counts = states_from_metrics(hub.metrics())
    except KindfleetError:
        return None
    return int(sum(counts.get(s.value, 0) for s in WorkloadState if s.terminal))


def _sample(hub: HubClient, tally: _Tally, memory: Callable[[], dict[str, int]]) -> None:
    finished = _finished(hub)
    if finished is None:
        return
    with tally.lock:
        if tally.state.exact:  # counted on the hub after a stop: the gauge is older
            return
        tally.state.finished = max(0, finished - tally.before)
        tally.timeline.append(
            (time.monotonic() - tally.began, tally.state.accepted, tally.state.finished)
        )
    for name, value in memory().items():
        tally.peak[name] = max(tally.peak.get(name, 0), value)


def states_from_metrics(text: str) -> dict[str, float]:
    """Workloads by state from the hub's Prometheus gauge: cheap enough to poll."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("kindfleet_hub_workloads{"):
            state = line.split('state="', 1)[1].split('"', 1)[0]
            out[state] = float(line.rsplit(" ", 1)[1])
    return out


@dataclass(frozen=True)
class Look:
    """The run's workloads as the hub last listed them (none when it never did), and,
    when the last try to list them failed, that failure: the hub could not be asked."""

    ours: list[Workload] = field(default_factory=list)
    trouble: KindfleetError | None = None


def _look_until_ended(target: Target, tally: _Tally, deadline: float) -> Look:
    """The run's workloads once every one has ended, or as the hub last listed them at
    the deadline. A hub that cannot be asked (killed, paused, restarting in a failover
    drill) is asked again until the deadline, never after it; one refusing the request
    (a token, a bad request: no retry mends that) is not asked again."""
    look = Look()
    while True:
        try:
            look = Look(_ours(target, tally, deadline))
        except UsageError as exc:
            return Look(look.ours, exc)
        except KindfleetError as exc:
            look = Look(look.ours, exc)
        else:
            if all(w.state.terminal for w in look.ours):
                return look
        if time.monotonic() >= deadline:
            return look
        time.sleep(min(LOOK_EVERY, max(0.0, deadline - time.monotonic())))


def _ours(target: Target, tally: _Tally, deadline: float) -> list[Workload]:
    ids = set(tally.accepted.values())
    wait = min(LIST_FOR, max(LIST_AT_LEAST, (deadline - time.monotonic()) / RETRIES))
    with target.hub(timeout=wait) as hub:
        return [w for w in hub.iter_workloads(limit=1000) if w.id in ids]


def settled(ids: set[str], look: Look) -> tuple[list[Workload], int]:
    """What the result is made of: the listed workloads, and how many accepted ones the
    hub could not be asked about. When the last look failed, only the workloads the hub
    had said have ended count (an end is final; a state short of it may have moved on,
    a spoke changed); every other accepted one is unchecked, neither lost nor succeeded."""
    if look.trouble is None:
        return look.ours, 0
    ended = [w for w in look.ours if w.state.terminal]
    return ended, len(ids - {w.id for w in ended})


def _collect(
    target: Target,
    tally: _Tally,
    options: LoadOptions,
    submit_seconds: float,
    look: Look,
) -> LoadResult:
    ids = set(tally.accepted.values())
    ours, unchecked = settled(ids, look)
    seen = Counter(w.id for w in ours)
    states = Counter(w.state.value for w in ours)
    start, e2e, ends = [], [], []
    for w in ours:
        if w.attempts and w.attempts[-1].started_at:
            start.append((w.attempts[-1].started_at - w.submitted_at).total_seconds())
        if w.attempts and (end := w.attempts[-1].finished_at):
            e2e.append((end - w.submitted_at).total_seconds())
            ends.append(end)
    first = min((w.submitted_at for w in ours), default=None)
    work = (max(ends) - first).total_seconds() if ends and first else 0.0
    return LoadResult(
        fleet=target.spec.name,
        requests=options.requests,
        accepted=len(ids),
        errors=dict(tally.errors),
        lost=len(ids) - states.get("Succeeded", 0) - unchecked,
        # the hub listing one workload twice, or two submissions accepted as one id
        duplicated=sum(n - 1 for n in seen.values()) + (len(tally.accepted) - len(ids)),
        submit_seconds=submit_seconds,
        total_seconds=time.monotonic() - tally.began,
        work_seconds=work,
        submit_latency_ms=tally.latencies,
        start_latency_s=start,
        end_to_end_s=e2e,
        per_spoke=dict(Counter(w.spoke or "-" for w in ours)),
        states=dict(states),
        timeline=list(tally.timeline),  # a late watcher's sample must not change it
        memory_bytes=dict(tally.peak),
        unchecked=unchecked,
        unchecked_why=look.trouble.message if look.trouble and unchecked else "",
        unchecked_hint=(look.trouble.hint or "") if look.trouble and unchecked else "",
        label=tally.state.label,
    )
