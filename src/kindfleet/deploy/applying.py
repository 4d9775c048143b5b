"""Render, check, apply: the hub first (spokes register with it), then every spoke at
once, each waiting for its pod to be Ready unless told not to.

A spoke that fails is named and the others carry on (exit 4, like `up`); a hub that fails
stops the deploy, because no spoke could register with it.
"""

from __future__ import annotations

from collections.abc import Callable

from kindfleet.deploy import validate as vd
from kindfleet.deploy.context import DeployContext
from kindfleet.deploy.manifests import render_manifests
from kindfleet.deploy.manifests.objects import CONTROL_NAMESPACE, HUB_NAMESPACE
from kindfleet.deploy.yamlout import cluster_stream
from kindfleet.errors import KindfleetError, unexpected
from kindfleet.exec import CommandError
from kindfleet.fleetspec.internal import Cluster
from kindfleet.lifecycle.parallel import run_parallel
from kindfleet.providers.base import AppliesManifests

HUB_APP = "hub"  # the Deployments' names, also their pods' `app` label
ORCHESTRATOR_APP = "orchestrator"
_MISSING_NAMESPACE = "namespaces"


def render(ctx: DeployContext) -> str | None:
    """The manifests of every cluster, checked against its Kubernetes version's schema."""
    ctx.manifests = render_manifests(ctx.fleet, ctx.deploy_facts())
    count = sum(len(objects) for objects in ctx.manifests.values())
    where = f"{count} objects for {len(ctx.manifests)} clusters"
    if ctx.validator is None:
        ctx.warn(
            f"schema validation skipped: kubernetes-validate is not installed ({vd.INSTALL}); "
            "the API server checks every field when the objects are applied",
            "validating",
        )
        if ctx.options.dry_run:
            _server_dry_run(ctx)
            return f"{where}; checked by the API servers (dry run)"
        return where
    versions = set()
    for cluster in ctx.fleet.clusters:
        version = ctx.version(cluster)
        skipped = vd.validate_objects(
            cluster.name, ctx.manifests[cluster.name], version, ctx.validator
        )
        if skipped:
            ctx.warn(f"{cluster.name}: {skipped}", "validating")
        else:
            versions.add(version)
    valid = f"; valid for Kubernetes {', '.join(sorted(versions))}" if versions else ""
    return where + valid


def _server_dry_run(ctx: DeployContext) -> None:
    for cluster in ctx.fleet.clusters:
        try:
            ctx.api.dry_run_apply(cluster, cluster_stream(ctx.manifests[cluster.name]))
        except CommandError as exc:
            if f'{_MISSING_NAMESPACE} "' in exc.output and "not found" in exc.output:
                ctx.warn(
                    f"{cluster.name}: the API server cannot dry-run objects in namespaces that "
                    f"do not exist yet (a first deploy); {vd.INSTALL} checks them offline",
                    "validating",
                )
                continue
            raise


def _apply_one(ctx: DeployContext, cluster: Cluster, namespace: str, app: str) -> None:
    provider = ctx.provider
    assert isinstance(provider, AppliesManifests)
    objects = ctx.manifests[cluster.name]
    title = f"applying {len(objects)} objects"
    _timed(
        ctx,
        cluster,
        title,
        lambda: provider.apply_manifest(ctx.fleet, cluster, cluster_stream(objects)),
    )
    if ctx.options.wait:  # the new ReplicaSet's pod Ready, not an old one still terminating
        wait = ctx.options.wait_seconds
        _timed(
            ctx,
            cluster,
            f"waiting for deployment/{app} to roll out",
            lambda: ctx.api.wait_rollout(cluster, namespace, app, wait),
        )


def _timed(ctx: DeployContext, cluster: Cluster, title: str, work: Callable[[], None]) -> None:
    ctx.emit(cluster.name, title, "start")
    began = ctx.clock()
    try:
        work()
    except KindfleetError as exc:
        ctx.emit(
            cluster.name, title, "fail", exc.message.splitlines()[0], seconds=ctx.clock() - began
        )
        raise
    ctx.emit(cluster.name, title, "done", seconds=ctx.clock() - began)


def apply_hub(ctx: DeployContext) -> str | None:
    hub = ctx.fleet.hub
    began = ctx.clock()
    try:
        _apply_one(ctx, hub, HUB_NAMESPACE, HUB_APP)
    except KindfleetError as exc:
        ctx.emit(hub.name, "failed", "fail", final=True, seconds=ctx.clock() - began)
        look = f"kubectl --context {hub.context} -n {HUB_NAMESPACE} describe pods -l app={HUB_APP}"
        raise KindfleetError(
            f"the hub {hub.name} could not be deployed: {exc.message}", hint=exc.hint or look
        ) from None
    ctx.emit(hub.name, "deployed", "done", final=True, seconds=ctx.clock() - began)
    return None


def apply_spokes(ctx: DeployContext) -> str | None:
    def one(cluster: Cluster) -> None:
        began = ctx.clock()
        try:
            _apply_one(ctx, cluster, CONTROL_NAMESPACE, ORCHESTRATOR_APP)
        except KindfleetError as exc:
            ctx.emit(cluster.name, "failed", "fail", final=True, seconds=ctx.clock() - began)
            with ctx._lock:
                ctx.failed[cluster.name] = str(exc)
            return
        ctx.emit(cluster.name, "deployed", "done", final=True, seconds=ctx.clock() - began)

    results = run_parallel(
        list(ctx.fleet.spokes),
        one,
        limit=ctx.options.parallel,
        key=lambda c: c.name,
        on_interrupt=ctx.interrupt,
    )
    for name, result in results.items():
        if isinstance(result, BaseException):  # a bug, not a failure we foresaw
            ctx.failed[name] = unexpected(result)
    return None
