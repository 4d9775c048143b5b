"""The steps that bring one cluster up, in order, as data.

Each step says what it is called in the progress view, whether it applies to this
cluster on this provider (Calico only where the cluster asks for it and the provider has
an API to apply it to; registry wiring only where the provider runs a registry; and so
on), and what it does, through the provider only. Which steps run depends on what `up`
decided for the cluster (create, repair, keep, check); a new concern (GPU capacity, say)
is one more `Step` in these lists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kindfleet import kubeconfig as kc
from kindfleet.errors import KindfleetError
from kindfleet.fleetspec.internal import Cluster
from kindfleet.lifecycle import steprunner
from kindfleet.lifecycle.context import UpContext
from kindfleet.lifecycle.results import Action
from kindfleet.providers.base import (
    AppliesManifests,
    CreateOptions,
    HostsRegistry,
    KeepsData,
    PreloadsImages,
    Rejoins,
    StartsNodes,
    WaitsForReady,
)
from kindfleet.render import calico
from kindfleet.render import registry as reg_render


@dataclass(frozen=True)
class ClusterJob:
    """What a cluster's steps work on: the run's shared context and this cluster."""

    ctx: UpContext
    cluster: Cluster


Step = steprunner.Step[ClusterJob]


def _notes(ctx: UpContext, cluster: Cluster, step: str) -> Callable[[str], None]:
    def note(message: str) -> None:
        if message.startswith("warning: "):
            ctx.emit(cluster.name, step, "warn", message.removeprefix("warning: "))
        else:
            ctx.emit(cluster.name, step, "note", message)

    return note


# --- create / check ------------------------------------------------------------------


def _create(job: ClusterJob) -> str | None:
    ctx, cluster = job.ctx, job.cluster
    provider = ctx.provider
    if not (isinstance(provider, KeepsData) and provider.has_data(ctx.fleet, cluster)):
        ctx.mark_started(cluster.name)  # this run makes it: an interrupt removes it
    options = CreateOptions(
        kubeconfig=ctx.cluster_kubeconfig(cluster.name),
        wait_seconds=ctx.options.wait_seconds,
        # kind removes a failed cluster's nodes itself; they must outlive it to be read
        retain_on_failure=ctx.options.retain or ctx.options.logs_dir is not None,
        report=_notes(ctx, cluster, "creating"),
    )
    ctx.provider.create(ctx.fleet, cluster, options)
    return None


def _check(job: ClusterJob) -> str | None:
    ctx, cluster = job.ctx, job.cluster
    options = CreateOptions(
        wait_seconds=ctx.options.wait_seconds, report=_notes(ctx, cluster, "checking")
    )
    ctx.provider.create(ctx.fleet, cluster, options)
    return f"context {cluster.context}"


def _remove_broken(job: ClusterJob) -> str | None:
    """What is left of a cluster broken beyond repair goes, kubeconfig entry and all."""
    ctx, cluster = job.ctx, job.cluster
    ctx.provider.delete(ctx.fleet, cluster.name)
    target = ctx.kubeconfig_file
    if target is not None and target.path.exists():
        target.update(lambda config: kc.remove_context(config, cluster.context))
    return None


CREATE = Step("create", lambda job: "creating", steprunner.always, _create)
REMOVE = Step("remove", lambda job: "removing what is left", steprunner.always, _remove_broken)
CHECK = Step("check", lambda job: "checking", steprunner.always, _check)


# --- CNI -----------------------------------------------------------------------------


def calico_version(cluster: Cluster) -> str:
    return cluster.networking.calico_version or calico.DEFAULT_VERSION


def _wants_calico(job: ClusterJob) -> bool:
    ctx, cluster = job.ctx, job.cluster
    return (
        cluster.networking.cni == "calico"
        and ctx.traits.owns_clusters
        and isinstance(ctx.provider, AppliesManifests)
    )


def _install_calico(job: ClusterJob) -> str | None:
    ctx, cluster = job.ctx, job.cluster
    assert isinstance(ctx.provider, AppliesManifests)
    try:
        pool = calico.ipv4_pool(cluster.networking.pod_subnet)
        manifest = calico.set_ipv4_pool(ctx.manifests.get(calico_version(cluster)), pool)
        manifest = calico.set_encapsulation(manifest)
    except calico.ManifestError as exc:
        raise KindfleetError(
            f"cannot install Calico on {cluster.name}: {exc}",
            hint="use a calico.yaml from projectcalico (manifests/calico.yaml) of v3.2x or later",
        ) from None
    loaded = _preload(job, calico.images(manifest))
    ctx.provider.apply_manifest(ctx.fleet, cluster, manifest)
    ctx.provider.wait_pods_ready(
        ctx.fleet, cluster, calico.NAMESPACE, calico.NODE_SELECTOR, ctx.options.wait_seconds
    )
    return f"IPv4 pool {pool}, VXLANCrossSubnet" + (f"; {loaded}" if loaded else "")


def _preload(job: ClusterJob, images: list[str]) -> str:
    """The CNI's images pulled once on this machine and loaded into the cluster's nodes
    (so its nodes do not each pull them), where the provider can; what was done."""
    ctx, cluster = job.ctx, job.cluster
    if not (ctx.options.preload_images and images and isinstance(ctx.provider, PreloadsImages)):
        return ""
    warnings = ctx.provider.preload_images(ctx.fleet, cluster, images)
    for warning in warnings:
        ctx.emit(cluster.name, f"installing Calico {calico_version(cluster)}", "warn", warning)
    loaded = len(images) - len(warnings)
    return f"{loaded} of {len(images)} images loaded from this machine" if loaded else ""


CNI = Step(
    "cni",
    lambda job: f"installing Calico {calico_version(job.cluster)}",
    _wants_calico,
    _install_calico,
)


# --- registry ------------------------------------------------------------------------


def _has_registry(job: ClusterJob) -> bool:
    return job.ctx.fleet.registry is not None and isinstance(job.ctx.provider, HostsRegistry)


def _wire_registry(job: ClusterJob) -> str | None:
    ctx, cluster = job.ctx, job.cluster
    registry = ctx.fleet.registry
    assert registry is not None
    assert isinstance(ctx.provider, HostsRegistry)
    ctx.provider.connect_registry(ctx.fleet, cluster)
    if isinstance(ctx.provider, AppliesManifests):
        configmap = reg_render.local_registry_hosting_yaml(registry)
        ctx.provider.apply_manifest(ctx.fleet, cluster, configmap)
    return f"pulls {registry.host_endpoint}/* from {registry.internal_endpoint}"


REGISTRY = Step("registry", lambda job: "wiring the registry", _has_registry, _wire_registry)


# --- readiness -----------------------------------------------------------------------


def _waits(job: ClusterJob) -> bool:
    return isinstance(job.ctx.provider, WaitsForReady) and job.ctx.traits.owns_clusters


def _wait_ready(job: ClusterJob) -> str | None:
    ctx, cluster = job.ctx, job.cluster
    assert isinstance(ctx.provider, WaitsForReady)
    if cluster.networking.cni == "none":
        return "not waited for: cni none (nodes turn Ready once you install a CNI)"
    ctx.provider.wait_ready(ctx.fleet, cluster, ctx.options.wait_seconds)
    return f"{len(cluster.nodes)} nodes Ready"


READY = Step("ready", lambda job: "waiting for nodes Ready", _waits, _wait_ready)


def _rejoins(job: ClusterJob) -> bool:
    return isinstance(job.ctx.provider, Rejoins)


def _wait_rejoined(job: ClusterJob) -> str | None:
    ctx = job.ctx
    assert isinstance(ctx.provider, Rejoins)
    return ctx.provider.wait_rejoined(ctx.fleet, job.cluster, ctx.options.wait_seconds)


def _rejoin_title(job: ClusterJob) -> str:
    return (
        "waiting for it to answer"
        if job.cluster.role == "hub"
        else "waiting for the hub to hear it"
    )


REJOIN = Step("rejoin", _rejoin_title, _rejoins, _wait_rejoined)


# --- kubeconfig ----------------------------------------------------------------------


def _merges(job: ClusterJob) -> bool:
    return job.ctx.kubeconfig_file is not None


def cluster_entries(text: str, context: str) -> kc.Config:
    """A provider's kubeconfig for one cluster, its context renamed to the fleet's name."""
    config = kc.parse(text, source="the cluster's kubeconfig")
    names = kc.context_names(config)
    if len(names) == 1 and names[0] != context:
        config = kc.rename_context(config, names[0], context)
    return config


def _merge_kubeconfig(job: ClusterJob) -> str | None:
    ctx, cluster = job.ctx, job.cluster
    target = ctx.kubeconfig_file
    assert target is not None
    own = ctx.cluster_kubeconfig(cluster.name)
    text = own.read_text(encoding="utf-8") if own.exists() else ""
    if not kc.context_names(kc.parse(text)):
        text = ctx.provider.kubeconfig(ctx.fleet, cluster.name)
    incoming = cluster_entries(text, cluster.context)
    target.update(lambda base: kc.merge(not_theirs(base, cluster.context, target.path), incoming))
    return f"context {cluster.context} in {target.path}"


def not_theirs(base: kc.Config, context: str, path: object) -> kc.Config:
    """`base`, unless it holds a context of the user's own under the cluster's name (one
    pointing at other entries than kind writes): merged, it was replaced without a word,
    and `down` then removed it as the fleet's."""
    if context in kc.context_names(base) and not kc.is_kind_context(base, context):
        raise kc.KubeconfigError(
            f"{path} has a context {context} of its own, pointing at another cluster: "
            "kindfleet does not replace it",
            hint=f"rename yours (kubectl config rename-context {context} NEW) or give the "
            "cluster another `context:` in the fleet file",
        )
    return base


KUBECONFIG = Step("kubeconfig", lambda job: "merging kubeconfig", _merges, _merge_kubeconfig)


def _starts_nodes(job: ClusterJob) -> bool:
    return isinstance(job.ctx.provider, StartsNodes)


def _start_nodes(job: ClusterJob) -> str | None:
    ctx = job.ctx
    assert isinstance(ctx.provider, StartsNodes)
    started = ctx.provider.start_nodes(ctx.fleet, job.cluster)
    return f"started {', '.join(started)}" if started else None


START = Step("start", lambda job: "starting stopped nodes", _starts_nodes, _start_nodes)


PIPELINES: Mapping[Action, Sequence[Step]] = {
    "create": (CREATE, CNI, REGISTRY, READY, KUBECONFIG),
    "recreate": (REMOVE, CREATE, CNI, REGISTRY, READY, KUBECONFIG),
    "repair": (START, CNI, REGISTRY, READY, REJOIN, KUBECONFIG),
    "rejoin": (REJOIN,),
    "keep": (REGISTRY, KUBECONFIG),
    "check": (CHECK,),
}
