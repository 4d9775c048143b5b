"""`up`: from a fleet file to running clusters, in parallel, leaving nothing half-made.

The order is: look at what exists, preflight, the fleet's registry, then every cluster's
steps in parallel (bounded; the hub alone first when the provider needs it), then the
hub's context made current. A cluster whose creation fails is removed (unless retained)
and reported; the others carry on. Ctrl-C stops the commands in flight, removes the
clusters whose creation had begun and not completed before it (one whose last step ends
after it too; and a registry this run created, if no cluster is left to use it), then lets
the interrupt through.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from kindfleet import kubeconfig as kc
from kindfleet import scratch
from kindfleet.errors import KindfleetError, unexpected
from kindfleet.exec import Interrupted
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.lifecycle.calicosource import CalicoManifests
from kindfleet.lifecycle.context import Interruptible, UpContext, UpOptions
from kindfleet.lifecycle.events import FLEET, Reporter, ignore
from kindfleet.lifecycle.parallel import run_parallel
from kindfleet.lifecycle.plan import ClusterPlan, plan_up, waves
from kindfleet.lifecycle.results import (
    WORDS,
    ClusterOutcome,
    UpFailed,
    UpPartialFailure,
    UpResult,
    failure_message,
    strays_message,
)
from kindfleet.lifecycle.steprunner import run_steps
from kindfleet.lifecycle.steps import PIPELINES, ClusterJob, not_theirs
from kindfleet.providers.base import (
    ClusterExists,
    ClusterStatus,
    ExportsLogs,
    HostsRegistry,
    Provider,
    Rejoins,
    strays,
)
from kindfleet.providers.preflight import PreflightOptions

__all__ = ["UpOptions", "run_cluster", "up"]


def up(
    fleet: FleetSpec,
    provider: Provider,
    options: UpOptions | None = None,
    *,
    report: Reporter = ignore,
    interrupter: Interruptible | None = None,
    manifests: CalicoManifests | None = None,
) -> UpResult:
    options = options or UpOptions()
    scratch.sweep()  # what a killed run left: its clusters' admin kubeconfigs among it
    with scratch.folder("up") as workdir:
        ctx = UpContext(
            fleet=fleet,
            provider=provider,
            options=options,
            workdir=Path(workdir),
            report=report,
            manifests=manifests or CalicoManifests(options.calico_manifest),
            interrupter=interrupter,
        )
        return run(ctx)


def selected(fleet: FleetSpec, names: Sequence[str] | None) -> list[Cluster]:
    """The clusters named (all for none); one name given as a string is that name, not
    its letters (`up(clusters="spoke1")` said "no cluster 's'")."""
    if not names:
        return list(fleet.clusters)
    if isinstance(names, str):
        names = [names]
    wanted = {fleet.cluster(n).name for n in names}  # unknown names: UsageError
    return [c for c in fleet.clusters if c.name in wanted]


def run(ctx: UpContext) -> UpResult:
    start = ctx.clock()
    clusters = selected(ctx.fleet, ctx.options.clusters)
    checking = ctx.options.preflight
    try:
        existing, healthy, broken, drift, foreign = _observe(ctx, clusters)
    except KindfleetError:
        if checking:  # kind or Docker missing, the engine down: say all that is wrong
            _preflight(ctx, set())
        raise
    # A broken cluster is ours too: what it holds (its host ports) is freed when it is
    # made anew, so it is no stranger's port in use.
    versions = _preflight(ctx, existing) if checking else {}
    plans = plan_up(
        [c for c in clusters if c.name not in foreign],
        existing=existing,
        healthy=healthy,
        owns_clusters=ctx.traits.owns_clusters,
        broken=broken,
        ready_through_hub=isinstance(ctx.provider, Rejoins),
    )
    others = strays(ctx.provider, ctx.fleet) if ctx.traits.owns_clusters else []
    # Kept: they may run work, and are not this file's to judge. Said once `up` is done.
    warnings = (strays_message(ctx.fleet.name, others),) if others else ()
    for name, how in drift.items():  # kept: making it anew would stop the work it runs
        hint = f"`kindfleet down -f {ctx.fleet.source or 'FILE'} --cluster {name}`, then `up`"
        ctx.emit(name, "differs from the fleet file", "warn", f"{how}; {hint} makes it anew")
    if ctx.kubeconfig_file is not None:  # before anything is made that it would hold
        base = ctx.kubeconfig_file.check_writable()
        for plan in plans:  # a context of the user's under a cluster's name: said now
            not_theirs(base, plan.cluster.context, ctx.kubeconfig_file.path)
    try:
        _registry(ctx)
        outcomes = _clusters(ctx, plans, foreign)
        if ctx.cancelled.is_set():
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        _clean_after_interrupt(ctx)
        raise
    _switch_context(ctx, clusters, outcomes)
    result = UpResult(
        fleet=ctx.fleet.name,
        provider=ctx.provider.name,
        outcomes=tuple(outcomes),
        seconds=ctx.clock() - start,
        registry_created=ctx.registry_new,
        kubeconfig=ctx.kubeconfig_file.path if ctx.kubeconfig_file else None,
        versions=versions,
        warnings=warnings,
    )
    _raise_for_failures(result)
    return result


def _observe(
    ctx: UpContext, clusters: list[Cluster]
) -> tuple[set[str], dict[str, bool], dict[str, str], dict[str, str], dict[str, str]]:
    """Which clusters exist already, which of those are healthy, which are broken beyond
    repair (and why), which run otherwise than the fleet file says (and how), and which
    have a name of the fleet's but are not its own (and why)."""
    if not ctx.traits.owns_clusters:
        return set(), {}, {}, {}, {}
    existing = set(ctx.provider.list_clusters(ctx.fleet)) & {c.name for c in clusters}
    present = [c for c in clusters if c.name in existing]
    results = run_parallel(
        present,
        lambda c: ctx.provider.status(ctx.fleet, c),
        limit=ctx.options.parallel,
        key=lambda c: c.name,
        on_interrupt=ctx.interrupt,
    )
    for result in results.values():
        if isinstance(result, BaseException):
            raise result
    statuses = [r for r in results.values() if isinstance(r, ClusterStatus)]
    healthy = {s.name: s.ready for s in statuses}
    broken = {s.name: s.broken for s in statuses if s.broken and not s.ready}
    drift = {s.name: s.drift for s in statuses if s.drift}
    foreign = {s.name: s.foreign for s in statuses if s.foreign}
    if present:
        state = ", ".join(_state(s) for s in statuses)
        ctx.emit(FLEET, "existing clusters", "note", f"already there: {state}")
    return existing, healthy, broken, drift, foreign


def _state(status: ClusterStatus) -> str:
    if status.foreign:
        return f"{status.name} (not this fleet's: {status.foreign})"
    if status.drift:
        return f"{status.name} ({status.drift})"
    if status.ready:
        return f"{status.name} (ready)"
    return f"{status.name} ({status.broken or 'not ready'})"


def _preflight(ctx: UpContext, existing: set[str]) -> dict[str, str]:
    ctx.emit(FLEET, "preflight", "start")
    start = ctx.clock()
    registry_running = False
    if ctx.fleet.registry and isinstance(ctx.provider, HostsRegistry):
        try:
            status = ctx.provider.registry_status(ctx.fleet)
        except KindfleetError:  # the engine does not answer: the docker check says why
            status = None
        registry_running = bool(status and status.running)
    options = PreflightOptions(
        skip=ctx.options.skip_checks, existing=existing, registry_running=registry_running
    )
    report = ctx.provider.preflight(ctx.fleet, options)
    for finding in report.warnings:
        ctx.emit(FLEET, "preflight", "warn", f"{finding.check}: {finding.message}")
    seconds = ctx.clock() - start
    if report.errors:
        names = ", ".join(f.check for f in report.errors)
        ctx.emit(FLEET, "preflight", "fail", f"failed: {names}", seconds=seconds)
        report.raise_for_errors()
    found = ", ".join(f"{k} {v}" for k, v in report.versions.items())
    ctx.emit(FLEET, "preflight", "done", found, seconds=seconds)
    return dict(report.versions)


def _registry(ctx: UpContext) -> None:
    registry = ctx.fleet.registry
    if registry is None or not isinstance(ctx.provider, HostsRegistry):
        return
    if not ctx.traits.owns_clusters:
        return
    title = f"registry {registry.name}"
    ctx.emit(FLEET, title, "start")
    start = ctx.clock()
    before = ctx.provider.registry_status(ctx.fleet)
    ctx.registry_new = not (before and before.exists)  # so Ctrl-C from here on removes it
    try:
        ctx.provider.ensure_registry(ctx.fleet)
    except KindfleetError as exc:
        ctx.emit(FLEET, title, "fail", exc.message.splitlines()[0], seconds=ctx.clock() - start)
        raise
    how = "created" if ctx.registry_new else "already running"
    message = f"{how}; push to {registry.host_endpoint}"
    ctx.emit(FLEET, title, "done", message, seconds=ctx.clock() - start)


def _clusters(
    ctx: UpContext, plans: list[ClusterPlan], foreign: Mapping[str, str]
) -> list[ClusterOutcome]:
    outcomes = [_not_ours(ctx, name, why) for name, why in foreign.items()]
    hub_failed = ctx.fleet.hub.name in foreign and ctx.traits.creates_hub_first
    for wave in waves(plans, hub_first=ctx.traits.creates_hub_first):
        if hub_failed:
            for plan in wave:
                error = f"not started: the hub {ctx.fleet.hub.name} failed"
                ctx.emit(plan.cluster.name, "skipped", "fail", error, final=True)
                outcomes.append(ClusterOutcome(plan.cluster.name, plan.action, False, 0.0, error))
            continue
        results = run_parallel(
            wave,
            lambda plan: run_cluster(ctx, plan),
            limit=ctx.options.parallel,
            key=lambda plan: plan.cluster.name,
            on_interrupt=ctx.interrupt,
        )
        for plan in wave:
            outcome = results[plan.cluster.name]
            if isinstance(outcome, BaseException):  # interrupted, or a bug we did not foresee
                interrupted = isinstance(outcome, Interrupted)
                message = "interrupted" if interrupted else unexpected(outcome)
                outcome = ClusterOutcome(plan.cluster.name, plan.action, False, 0.0, message)
            outcomes.append(outcome)
            if plan.cluster.role == "hub" and not outcome.ok:
                hub_failed = ctx.traits.creates_hub_first
    return outcomes


def _not_ours(ctx: UpContext, name: str, why: str) -> ClusterOutcome:
    """A cluster of the fleet's name that is somebody else's: neither taken over (wired to
    this fleet's registry, its context merged) nor made anew (deleted) by this `up`."""
    error = (
        f"a KIND cluster named {name} exists and is not this fleet's ({why}): left alone. "
        f"Give the cluster another name in the fleet file, or remove that one yourself if it "
        f"is not needed (kind delete cluster --name {name})"
    )
    ctx.emit(name, "not this fleet's", "fail", why, final=True)
    return ClusterOutcome(name, "keep", False, 0.0, error)


def run_cluster(ctx: UpContext, plan: ClusterPlan) -> ClusterOutcome:
    """Every step of the plan's pipeline that applies, in order; a failure stops them."""
    cluster = plan.cluster
    start = ctx.clock()
    if plan.action in ("keep", "repair", "recreate", "rejoin"):
        ctx.emit(cluster.name, plan.action, "note", plan.reason)
    try:
        run_steps(
            ClusterJob(ctx, cluster),
            PIPELINES[plan.action],
            emits=ctx,
            clock=ctx.clock,
            where=cluster.name,
            cancelled=ctx.cancelled.is_set,
        )
    except Interrupted:
        raise
    except KindfleetError as exc:
        return _failed(ctx, plan, exc, start)
    ctx.mark_finished(cluster.name)
    word = WORDS[plan.action].done if plan.action in WORDS else "done"
    ctx.emit(cluster.name, word, "done", final=True, seconds=ctx.clock() - start)
    return ClusterOutcome(cluster.name, plan.action, True, ctx.clock() - start)


def _failed(ctx: UpContext, plan: ClusterPlan, exc: KindfleetError, start: float) -> ClusterOutcome:
    """A cluster whose step failed (its line says which): removed if this run began it,
    and named with the whole error."""
    cluster = plan.cluster
    removed = False
    error = str(exc)
    ours = not isinstance(exc, ClusterExists)  # else somebody else's, made meanwhile
    if plan.action in ("create", "recreate") and cluster.name in ctx.started and ours:
        error += _collect_logs(ctx, cluster)
        if ctx.options.retain:
            error += (
                f"\n(nodes kept: --retain; `kindfleet down --cluster {cluster.name}` removes them)"
            )
        else:
            removed = _remove(ctx, cluster.name)
    elif plan.action == "repair":
        error += (
            f"\n(it was there before this run and is left as it is; `kindfleet down --cluster "
            f"{cluster.name}` and `kindfleet up` make it anew)"
        )
    ctx.mark_finished(cluster.name)
    seconds = ctx.clock() - start
    how = "removed" if removed else ""
    ctx.emit(cluster.name, "failed", "fail", how, seconds=seconds, final=True)
    return ClusterOutcome(cluster.name, plan.action, False, seconds, error, removed)


def _collect_logs(ctx: UpContext, cluster: Cluster) -> str:
    """With --logs-dir, what the failed cluster logged, collected before it is removed."""
    where = ctx.options.logs_dir
    if where is None or not isinstance(ctx.provider, ExportsLogs):
        return ""
    ctx.emit(cluster.name, "collecting logs", "start")
    began = ctx.clock()
    problems = ctx.provider.export_logs(ctx.fleet, cluster, where / cluster.name)
    seconds = ctx.clock() - began
    ctx.emit(cluster.name, "collecting logs", "done", "; ".join(problems), seconds=seconds)
    return f"\n(its logs: {where / cluster.name})"


def _remove(ctx: UpContext, name: str) -> bool:
    """Delete a cluster and its kubeconfig entry; False (and a failed event) if it failed."""
    ctx.emit(name, "removing", "start")
    start = ctx.clock()
    try:
        ctx.provider.delete(ctx.fleet, name)
        _forget_context(ctx, ctx.fleet.cluster(name))
    except Interrupted:
        raise
    except KindfleetError as exc:
        ctx.emit(name, "removing", "fail", exc.message.splitlines()[0], seconds=ctx.clock() - start)
        return False
    ctx.emit(name, "removing", "done", seconds=ctx.clock() - start)
    return True


def _forget_context(ctx: UpContext, cluster: Cluster) -> None:
    target = ctx.kubeconfig_file
    if target is not None and target.path.exists():
        target.update(lambda config: kc.remove_context(config, cluster.context))


SETTLE_SECONDS = 2.0  # for the engine to finish a `docker run` whose client was killed


def _clean_after_interrupt(ctx: UpContext) -> None:
    ctx.interrupt()
    ctx.resume()
    try:
        removed = []
        for name in ctx.half_made():
            if _remove(ctx, name):
                ctx.mark_finished(name)
                removed.append(name)
        _remove_late_arrivals(ctx, removed)
        _remove_new_registry(ctx)
    except KeyboardInterrupt:
        left = ", ".join(ctx.half_made()) or "none"
        message = f"interrupted again; half-made: {left}; run `kindfleet down`"
        ctx.emit(FLEET, "cleanup", "warn", message)
        raise InterruptedAgain(ctx.half_made()) from None


class InterruptedAgain(KeyboardInterrupt):
    """A second interrupt stopped the clean-up of the first: these clusters are left
    half-made (the summary must not say they were removed)."""

    def __init__(self, left: Sequence[str]) -> None:
        super().__init__(", ".join(left))
        self.left = tuple(left)


def _remove_late_arrivals(ctx: UpContext, removed: list[str]) -> None:
    """Killing `kind create` kills its `docker run`s, not what the engine was already doing
    for them: a node container can appear after its cluster was removed. Look once more."""
    if not removed:
        return
    time.sleep(SETTLE_SECONDS)
    for name in set(removed) & set(ctx.provider.list_clusters(ctx.fleet)):
        _remove(ctx, name)


def _remove_new_registry(ctx: UpContext) -> None:
    """A registry this run created goes too, unless a cluster of the fleet still uses it."""
    registry, owner = ctx.fleet.registry, ctx.provider
    if not ctx.registry_new or registry is None or not isinstance(owner, HostsRegistry):
        return
    if not owner.list_clusters(ctx.fleet):
        owner.delete_registry(ctx.fleet)
        ctx.emit(FLEET, f"registry {registry.name}", "note", "removed (interrupted)")


def _switch_context(
    ctx: UpContext, clusters: list[Cluster], outcomes: list[ClusterOutcome]
) -> None:
    target = ctx.kubeconfig_file
    hub = ctx.fleet.hub
    ok = {o.name for o in outcomes if o.ok}
    if (
        target is None
        or not ctx.options.switch_context
        or hub not in clusters
        or hub.name not in ok
    ):
        return
    target.update(lambda config: kc.use_context(config, hub.context, source=str(target.path)))
    ctx.emit(FLEET, "kubeconfig", "note", f"current context: {hub.context} ({target.path})")


def _raise_for_failures(result: UpResult) -> None:
    failed = result.failed
    if not failed:
        return
    message = failure_message("come up", failed, len(result.outcomes))
    hint = "fix the cause and run `kindfleet up` again: clusters that are up are kept"
    if len(failed) == len(result.outcomes):
        raise UpFailed(message, result=result, hint=hint)
    raise UpPartialFailure(message, result=result, hint=hint)
