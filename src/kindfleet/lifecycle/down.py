"""`down`: every trace of the fleet removed, in parallel, in seconds.

The clusters (or the one asked for), their kubeconfig entries, and, for the whole
fleet, its registry and shared leftovers nothing uses any more (KIND's network). Clusters
kindfleet does not own (provider existing) are left alone, and `down` says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kindfleet import kubeconfig as kc
from kindfleet.errors import KindfleetError, PartialFailure
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.lifecycle.events import FLEET, Event, Reporter, ignore
from kindfleet.lifecycle.parallel import run_parallel
from kindfleet.lifecycle.results import (
    NOT_IN_FILE,
    NOT_OURS,
    NOT_THERE,
    ClusterOutcome,
    ClustersFailed,
    failure_message,
    strays_message,
    with_timings,
)
from kindfleet.lifecycle.timings import Timings
from kindfleet.lifecycle.up import selected
from kindfleet.providers.base import HostsRegistry, Provider, Tidies, not_ours, strays, traits


@dataclass(frozen=True)
class DownOptions:
    parallel: int = 8
    kubeconfig: Path | None = None  # remove the clusters' contexts from this file
    clusters: tuple[str, ...] | None = None  # only these; None: the whole fleet


@dataclass(frozen=True)
class DownResult:
    fleet: str
    outcomes: tuple[ClusterOutcome, ...]
    seconds: float
    registry_removed: bool = False
    contexts_removed: tuple[str, ...] = ()
    tidied: tuple[str, ...] = ()
    timings: Timings | None = None  # when asked for: per cluster and step

    @property
    def failed(self) -> dict[str, str]:
        return {o.name: o.error or "failed" for o in self.outcomes if not o.ok}

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "timings"}
        return with_timings(data, self.outcomes, self.timings)


def down(
    fleet: FleetSpec,
    provider: Provider,
    options: DownOptions | None = None,
    *,
    report: Reporter = ignore,
    clock: Callable[[], float] = time.monotonic,
) -> DownResult:
    options = options or DownOptions()
    start = clock()
    clusters = selected(fleet, options.clusters)
    whole = not options.clusters
    if not traits(provider).owns_clusters:
        for cluster in clusters:
            why = f"left alone: provider {provider.name} does not own it"
            report(Event(cluster.name, "left alone", "note", why))
        outcomes = tuple(ClusterOutcome(c.name, "leave", True, 0.0) for c in clusters)
        return DownResult(fleet.name, outcomes, clock() - start)
    _can_forget(clusters, provider, options.kubeconfig)
    existing = set(provider.list_clusters(fleet))
    others = strays(provider, fleet) if whole else []  # the fleet's too: none left running
    if others:
        report(
            Event(
                FLEET, "other clusters", "note", strays_message(fleet.name, others, removing=True)
            )
        )
    existing.update(others)
    note = dict.fromkeys(others, NOT_IN_FILE)

    def remove(name: str) -> ClusterOutcome:
        began = clock()
        notes = (note[name],) if name in note else ()
        if name not in existing:
            report(Event(name, "not there", "done", final=True, seconds=0.0))
            return ClusterOutcome(name, "delete", True, 0.0, notes=(NOT_THERE,))
        foreign = not_ours(provider, fleet, name)
        if foreign:  # a user's own `kind create cluster --name X`, another fleet's X
            report(Event(name, "left alone", "note", f"not this fleet's: {foreign}", final=True))
            return ClusterOutcome(name, "leave", True, clock() - began, notes=(NOT_OURS,))
        report(Event(name, "deleting", "start"))
        try:
            provider.delete(fleet, name)
        except KindfleetError as exc:
            seconds = clock() - began
            report(Event(name, "deleting", "fail", exc.message.splitlines()[0], seconds, True))
            return ClusterOutcome(name, "delete", False, seconds, str(exc), notes=notes)
        report(Event(name, "deleted", "done", seconds=clock() - began, final=True))
        return ClusterOutcome(name, "delete", True, clock() - began, notes=notes)

    names = [c.name for c in clusters] + others
    results = run_parallel(names, remove, limit=options.parallel, key=str)
    outcomes = tuple(
        r if isinstance(r, ClusterOutcome) else ClusterOutcome(n, "delete", False, 0.0, str(r))
        for n, r in results.items()
    )
    gone = [c for c in clusters if _gone(results[c.name])]
    contexts = _forget(fleet, provider, gone, options.kubeconfig, report)
    registry_removed, tidied = False, tuple[str, ...]()
    if whole and not any(not o.ok for o in outcomes):
        registry_removed, tidied = _leftovers(fleet, provider, report)
    result = DownResult(fleet.name, outcomes, clock() - start, registry_removed, contexts, tidied)
    _raise_for_failures(result)
    return result


def _gone(outcome: object) -> bool:
    """Deleted by this `down`, or not there: its context may go (a cluster left alone as
    somebody else's keeps its own)."""
    return isinstance(outcome, ClusterOutcome) and outcome.ok and outcome.action == "delete"


def _can_forget(clusters: list[Cluster], provider: Provider, kubeconfig: Path | None) -> None:
    """Before anything is deleted: a kubeconfig holding the clusters' contexts can be
    written. Found after, the clusters were gone and the registry and network left."""
    if kubeconfig is None or not traits(provider).manages_kubeconfig or not kubeconfig.exists():
        return
    target = kc.KubeconfigFile(kubeconfig)
    config = target.read()
    if any(kc.is_kind_context(config, c.context) for c in clusters):
        target.refuse_read_only()


def _forget(
    fleet: FleetSpec,
    provider: Provider,
    clusters: list[Cluster],
    kubeconfig: Path | None,
    report: Reporter,
) -> tuple[str, ...]:
    """Remove the contexts of the clusters that are gone from the caller's kubeconfig."""
    if kubeconfig is None or not traits(provider).manages_kubeconfig or not kubeconfig.exists():
        return ()
    target = kc.KubeconfigFile(kubeconfig)
    config = target.read()  # a context of that name pointing elsewhere is the user's: kept
    names = tuple(c.context for c in clusters if kc.is_kind_context(config, c.context))
    if not names:
        return ()

    def change(config: kc.Config) -> kc.Config:
        for name in names:
            config = kc.remove_context(config, name)
        return config

    target.update(change)
    report(Event(FLEET, "kubeconfig", "done", f"removed {', '.join(names)} from {kubeconfig}"))
    return names


def _leftovers(
    fleet: FleetSpec, provider: Provider, report: Reporter
) -> tuple[bool, tuple[str, ...]]:
    removed = False
    if isinstance(provider, HostsRegistry):
        removed = provider.delete_registry(fleet)
        if removed and fleet.registry:
            report(Event(FLEET, f"registry {fleet.registry.name}", "done", "removed"))
    tidied: tuple[str, ...] = ()
    if isinstance(provider, Tidies):
        tidied = tuple(provider.tidy(fleet))
        for what in tidied:
            report(Event(FLEET, what, "done", "removed (nothing else uses it)"))
    return removed, tidied


def _raise_for_failures(result: DownResult) -> None:
    failed = result.failed
    if not failed:
        return
    message = failure_message("go down", failed, len(result.outcomes))
    hint = "run `kindfleet down` again; `kindfleet status` shows what is left"
    if len(failed) == len(result.outcomes):
        raise ClustersFailed(message, failed=failed, hint=hint)
    raise PartialFailure(message, failed=failed, hint=hint)
