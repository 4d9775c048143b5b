"""The steps that look at the clusters before anything is applied: are they there and
ready, where is the hub and where are the API servers, and the simulated GPUs that the
orchestrators must see in the nodes' capacity when they start."""

from __future__ import annotations

from collections.abc import Callable

from kindfleet import lifecycle
from kindfleet.deploy import facts as ft
from kindfleet.deploy.context import DeployContext
from kindfleet.deploy.manifests.objects import DeployFacts, hub_url
from kindfleet.errors import KindfleetError, PrerequisiteError
from kindfleet.fleetspec.internal import Cluster
from kindfleet.lifecycle.parallel import run_parallel
from kindfleet.providers.base import AppliesManifests
from kindfleet.providers.kubectl.commands import GPU_RESOURCE, gpu_patch


def check(ctx: DeployContext) -> str | None:
    """Every cluster exists (kind: and is Ready, as `status` sees it; existing: answers)."""
    if not isinstance(ctx.provider, AppliesManifests):
        raise PrerequisiteError(f"provider {ctx.provider.name} has no Kubernetes API to deploy to")
    state = lifecycle.status(ctx.fleet, ctx.provider, parallel=max(ctx.options.parallel, 1))
    ctx.statuses = {c.name: c for c in state.clusters}
    owns = ctx.traits.owns_clusters
    problems = []
    for status in state.clusters:
        if not status.exists:
            problems.append(f"{status.name} ({status.message or 'not created'})")
        elif owns and not status.ready:
            problems.append(f"{status.name} (not ready: {status.message or 'nodes not Ready'})")
    if problems:
        source = ctx.fleet.source or "FILE"
        hint = (
            f"`kindfleet up -f {source}` creates what is missing and repairs what is not ready"
            if owns
            else "check each context with `kubectl --context CONTEXT cluster-info`"
        )
        raise PrerequisiteError(
            "not every cluster can take the platform: " + ", ".join(problems), hint=hint
        )
    versions = ", ".join(sorted({ctx.version(c) for c in ctx.fleet.clusters}))
    how = "ready" if owns else "reachable"
    return f"{len(state.clusters)} clusters {how} (Kubernetes {versions})"


def _api_servers(ctx: DeployContext) -> dict[str, list[str]]:
    spokes = list(ctx.fleet.spokes)
    results = run_parallel(
        spokes,
        ctx.api.api_server_addresses,
        limit=ctx.options.parallel,
        key=lambda c: c.name,
        on_interrupt=ctx.interrupt,
    )
    found: dict[str, list[str]] = {}
    for name, result in results.items():
        if isinstance(result, list) and result:
            found[name] = result
            continue
        why = str(result).splitlines()[0] if isinstance(result, BaseException) else "none listed"
        ctx.warn(
            f"{name}: API server addresses unknown ({why}); its orchestrator may reach the "
            "whole container network on 443/6443 instead",
            "deploy facts",
        )
    return found


def facts(ctx: DeployContext) -> str | None:
    """The hub's address on the container network and every spoke's API server addresses."""
    explicit = ctx.options.hub_url
    host = None
    if explicit is None:
        hub = ctx.fleet.hub
        host = ft.hub_host(hub, ctx.statuses[hub.name].nodes if hub.name in ctx.statuses else ())
        if host is None:
            raise KindfleetError(
                f"no node of the hub {hub.name} has an address on the container network",
                hint="`kindfleet status` shows the nodes' addresses; or pass --hub-url URL",
            )
    assert ctx.client_token is not None, "the tokens step runs before this one"
    ctx.facts = DeployFacts(
        image=ctx.plan.ref,
        image_pull_policy=ctx.plan.pull_policy,
        hub_host=host,
        hub_url=explicit,
        api_server_addresses=_api_servers(ctx),
        client_token=ctx.client_token,
        image_id=ctx.image_id,
    )
    note = ft.egress_note(explicit) if explicit else None
    if note:
        ctx.warn(note, "deploy facts")
    servers = "; ".join(
        f"{name} {','.join(addrs)}" for name, addrs in ctx.facts.api_server_addresses.items()
    )
    return f"spokes dial {hub_url(ctx.fleet, ctx.facts)}" + (
        f"; API servers: {servers}" if servers else ""
    )


def wants_gpus(ctx: DeployContext) -> bool:
    return ctx.traits.owns_clusters and any(c.gpus for c in ctx.fleet.clusters)


def gpus(ctx: DeployContext) -> str | None:
    """`nvidia.com/gpu` capacity on every node with simulated GPUs, each cluster at once."""
    dry = ctx.options.dry_run
    chosen = [c for c in ctx.fleet.clusters if c.gpus]

    def one(cluster: Cluster) -> None:
        step = "simulated GPUs" + (" (server dry run)" if dry else "")
        ctx.emit(cluster.name, step, "start")
        began = ctx.clock()
        try:
            for node in (n for n in cluster.nodes if n.gpus):
                ctx.api.patch_node_status(cluster, node.name, gpu_patch(node.gpus), dry_run=dry)
        except KindfleetError as exc:
            seconds = ctx.clock() - began
            ctx.emit(cluster.name, step, "fail", exc.message.splitlines()[0], seconds=seconds)
            raise
        given = ", ".join(f"{n.name} {n.gpus}" for n in cluster.nodes if n.gpus)
        ctx.emit(
            cluster.name, step, "done", f"{GPU_RESOURCE}: {given}", seconds=ctx.clock() - began
        )

    _all_or_raise(ctx, chosen, one, "give nodes their simulated GPUs")
    total = sum(c.gpus for c in chosen)
    return f"{total} {GPU_RESOURCE} on {sum(1 for c in chosen for n in c.nodes if n.gpus)} nodes"


def _all_or_raise(
    ctx: DeployContext, clusters: list[Cluster], work: Callable[[Cluster], None], what: str
) -> None:
    results = run_parallel(
        clusters, work, limit=ctx.options.parallel, key=lambda c: c.name, on_interrupt=ctx.interrupt
    )
    failed = {n: r for n, r in results.items() if isinstance(r, BaseException)}
    if failed:
        lines = "\n".join(f"  {n}: {r}" for n, r in failed.items())
        raise KindfleetError(f"could not {what} on {', '.join(failed)}:\n{lines}")
