"""Inject, hold, clear: the fault records kept true while a provider does the work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from kindfleet.errors import KindfleetError, PartialFailure, UsageError
from kindfleet.faults.durations import MAX_HOLD
from kindfleet.faults.records import ACTIVE, CLEARED, FaultBook, FaultRecord, Holder
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import (
    FAULT_ACTIONS,
    FaultSpec,
    FaultUnsupported,
    InjectsFaults,
    Provider,
    traits,
)


class FaultRefused(UsageError):
    """The fault cannot be done here: the provider cannot do it, or the cluster has one."""


@runtime_checkable
class SeesUndone(Protocol):
    """A provider that can tell when a fault's effect was undone by something other than
    `fault clear`: `kindfleet up` starts a cluster that a `stop` or `kill` left down, and a
    record still saying "active" then refused every new fault on it. Optional: without
    it a record stays live until cleared."""

    def fault_undone(
        self, fleet: FleetSpec, cluster: Cluster, fault: FaultSpec, undo: Mapping[str, Any]
    ) -> str | None:
        """Why the fault injected with `undo` is no longer in effect, or None."""
        ...


def target(spec: FleetSpec, name: str) -> Cluster:
    """The cluster named, `hub` meaning the fleet's hub whatever its name; a `UsageError`
    listing the clusters when there is no such one."""
    if name == "hub" and name not in {c.name for c in spec.clusters}:
        return spec.hub
    return spec.cluster(name)


def touches(spec: FleetSpec, action: str, cluster: str) -> set[tuple[str, str]]:
    """What a fault changes: a cluster's nodes (stop, pause, kill), or spokes' links to
    the hub (partition, slow; on the hub, every spoke's). Two live faults may not touch
    the same thing: undoing one would undo part of the other."""
    if action in ("partition", "slow"):
        hub = spec.hub.name
        spokes = [s.name for s in spec.spokes] if cluster == hub else [cluster]
        return {("link", s) for s in spokes}
    return {("nodes", cluster)}


def refusal(spec: FleetSpec, provider: Provider, fault: FaultSpec) -> str | None:
    """Why `fault` cannot be injected into this fleet, or None."""
    if fault.action not in FAULT_ACTIONS:
        return f"{fault.action!r} is not a fault; use one of {', '.join(FAULT_ACTIONS)}"
    if not isinstance(provider, InjectsFaults):
        return f"provider {provider.name} cannot inject faults"
    return provider.fault_refusal(spec, target(spec, fault.cluster), fault.action)


def inject(
    spec: FleetSpec,
    provider: Provider,
    book: FaultBook,
    fault: FaultSpec,
    *,
    duration: float | None = None,
    clock: Callable[[], float] = time.time,
) -> FaultRecord:
    """Inject `fault` and record it. `duration`: the caller holds it that long (`hold`).

    Raises `FaultRefused` (exit 2) when the provider cannot do it or the cluster already
    has a live fault; a provider failure leaves a record (state `injecting`, with the
    error) that `clear` undoes.
    """
    if duration is not None and not 0 < duration <= MAX_HOLD:
        raise UsageError(
            f"a fault's duration must be more than 0 and at most {MAX_HOLD / 3600:g}h, "
            f"not {duration:g}s",
            hint="without a duration a fault stays until it is cleared",
        )
    cluster = target(spec, fault.cluster)
    fault = FaultSpec(fault.action, cluster.name, fault.latency_ms, fault.loss_percent)
    why = refusal(spec, provider, fault)
    if why is not None:
        raise FaultRefused(
            f"cannot {fault.action} {cluster.name}: {why}",
            hint=f"`kindfleet fault --help` says what provider {provider.name} can do",
        )
    assert isinstance(provider, InjectsFaults)
    if cluster.name not in provider.list_clusters(spec):
        raise FaultRefused(
            f"cannot {fault.action} {cluster.name}: it is not up",
            hint=f"`kindfleet up -f {spec.source or 'FILE'}` first; `kindfleet status` shows it",
        )
    with book.changing() as records:
        _settle(spec, provider, records, clock)
        mine = touches(spec, fault.action, cluster.name)
        for other in records:
            if other.live and mine & touches(spec, other.action, other.cluster):
                raise FaultRefused(
                    f"{cluster.name}: fault {other.id} ({other.action} on {other.cluster}, since "
                    f"{time.strftime('%H:%M:%S', time.localtime(other.injected_at))})",
                    hint=f"clear it first: `kindfleet fault clear {other.id}`",
                )
        now = clock()
        record = FaultRecord(
            id=book.new_id(records),
            action=fault.action,
            cluster=cluster.name,
            role=cluster.role,
            provider=provider.name,
            injected_at=now,
            latency_ms=fault.latency_ms if fault.action == "slow" else 0,
            loss_percent=fault.loss_percent if fault.action == "slow" else 0.0,
            until=now + duration if duration is not None else None,
            holder=Holder.me() if duration is not None else None,
        )
        records.append(record)
        book.write(records)  # the attempt is on record before anything is broken
        try:
            record.undo = dict(provider.inject_fault(spec, cluster, fault))
        except FaultUnsupported as exc:
            records.remove(record)  # nothing was changed: refused, not recorded
            raise FaultRefused(
                f"cannot {fault.action} {cluster.name}: {exc.message}", hint=exc.hint
            ) from None
        except KindfleetError as exc:
            record.error = exc.message
            raise
        record.state = ACTIVE
        record.injected_at = clock()
        if duration is not None:
            record.until = record.injected_at + duration
        return record


def _select(records: Sequence[FaultRecord], ids: Iterable[str] | None) -> list[FaultRecord]:
    if ids is None:
        return [r for r in records if r.live]
    wanted = list(ids)
    known = {r.id: r for r in records}
    missing = [i for i in wanted if i not in known]
    if missing:
        live = ", ".join(r.id for r in records if r.live) or "none"
        raise UsageError(
            f"no fault {', '.join(missing)} in this fleet's records", hint=f"live faults: {live}"
        )
    return [known[i] for i in wanted if known[i].live]


def clear(
    spec: FleetSpec,
    provider: Provider,
    book: FaultBook,
    ids: Iterable[str] | None = None,
    *,
    by: str = "fault clear",
    skip_undo: Callable[[FaultRecord], bool] = lambda r: False,
    clock: Callable[[], float] = time.time,
) -> list[FaultRecord]:
    """Undo the faults named by `ids` (None: every live one); returns those cleared.

    Each is undone through the provider, newest first; one that cannot be undone keeps
    its record (live, with the error) and the others are still undone: the failures are
    raised together at the end as a `PartialFailure`.
    """
    done: list[FaultRecord] = []
    failed: dict[str, str] = {}
    if not _select(book.read(), ids):
        return done  # nothing live to clear: no lock taken, no file made
    with book.changing() as records:
        _settle(spec, provider, records, clock)
        for record in sorted(_select(records, ids), key=lambda r: -r.injected_at):
            try:
                if not skip_undo(record):
                    _undo(spec, provider, record)
            except KindfleetError as exc:
                record.error = exc.message
                failed[record.id] = exc.message
                continue
            record.state = CLEARED
            record.cleared_at = clock()
            record.cleared_by = by
            record.error = None
            done.append(record)
    if failed:
        lines = "; ".join(f"{k}: {v.splitlines()[0]}" for k, v in failed.items())
        raise PartialFailure(
            f"could not clear {len(failed)} fault(s): {lines}",
            failed=failed,
            hint="fix what is named and run `kindfleet fault clear` again",
        )
    return done


def settle(
    spec: FleetSpec, provider: Provider, book: FaultBook, *, clock: Callable[[], float] = time.time
) -> list[FaultRecord]:
    """Mark cleared the live faults whose effect something else undid (the provider says
    which: `SeesUndone`), so that they are no longer listed live nor block a new fault;
    returns those. The lock is taken only when there is one."""
    if not any(_undone_elsewhere(spec, provider, r) for r in book.live()):
        return []
    with book.changing() as records:
        return _settle(spec, provider, records, clock)


def _settle(
    spec: FleetSpec, provider: Provider, records: list[FaultRecord], clock: Callable[[], float]
) -> list[FaultRecord]:
    settled = []
    for record in records:
        why = _undone_elsewhere(spec, provider, record)
        if why is None:
            continue
        record.state = CLEARED
        record.cleared_at = clock()
        record.cleared_by = f"another command: {why}"
        record.error = None
        settled.append(record)
    return settled


def _undone_elsewhere(spec: FleetSpec, provider: Provider, record: FaultRecord) -> str | None:
    """Only an `active` fault is asked about: one still `injecting` may be half-way."""
    if record.state != ACTIVE or not isinstance(provider, SeesUndone):
        return None
    if record.cluster not in {c.name for c in spec.clusters}:
        return None
    try:
        return provider.fault_undone(spec, spec.cluster(record.cluster), record.spec, record.undo)
    except KindfleetError:
        return None  # cannot tell now: the record is kept as it is


def _undo(spec: FleetSpec, provider: Provider, record: FaultRecord) -> None:
    if not isinstance(provider, InjectsFaults):
        raise KindfleetError(f"provider {provider.name} cannot undo fault {record.id}")
    if record.cluster not in {c.name for c in spec.clusters}:
        raise KindfleetError(
            f"fault {record.id} is on {record.cluster}, which the fleet file no longer has"
        )
    provider.clear_fault(spec, spec.cluster(record.cluster), record.spec, record.undo)


def clear_for_down(
    spec: FleetSpec, provider: Provider, book: FaultBook, clusters: Sequence[str]
) -> list[FaultRecord]:
    """Before `down` removes `clusters`: undo their live faults (the hub's too when the
    hub goes). A stopped or killed cluster that `down` deletes is not started again
    first: deleting it undoes the fault."""
    going = set(clusters)
    owned = traits(provider).owns_clusters
    ids = [r.id for r in book.live() if r.cluster in going]
    if not ids:
        return []

    def deleted_anyway(record: FaultRecord) -> bool:
        return owned and record.action in ("stop", "kill")

    return clear(spec, provider, book, ids, by="down", skip_undo=deleted_anyway)


def hold(
    spec: FleetSpec,
    provider: Provider,
    book: FaultBook,
    record: FaultRecord,
    *,
    tick: float = 0.25,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> FaultRecord | None:
    """Keep `record` until its `until`, then clear it; returns it cleared, or None when
    another command cleared it first. An interrupt (Ctrl-C, SIGTERM turned into
    KeyboardInterrupt by the caller) clears it at once, then propagates."""
    if record.until is None:
        raise UsageError(f"fault {record.id} has no duration to hold it for")
    try:
        while clock() < record.until:
            current = {r.id: r for r in book.read()}.get(record.id)
            if current is None or not current.live:
                return None
            sleep(min(tick, max(0.0, record.until - clock())))
    except KeyboardInterrupt:
        clear(spec, provider, book, [record.id], by="interrupt")
        raise
    cleared = clear(spec, provider, book, [record.id], by=f"its --for ({record.id})")
    return cleared[0] if cleared else None
