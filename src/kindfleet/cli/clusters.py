"""Commands over running clusters: up, status, down, kubeconfig, use.

Flags become keyword arguments of `Fleet` methods; progress events become one live line
per cluster on a terminal, or plain ` ✓ cluster: step` lines in logs and pipes. This is
also where the kubeconfig file is chosen as kubectl chooses it: --kubeconfig, else
$KUBECONFIG's first existing file, else ~/.kube/config.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.core import ParameterSource

from kindfleet import kubeconfig as kc
from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption, OutputOption
from kindfleet.cli.progress import progress
from kindfleet.errors import EXIT_INTERRUPTED, UsageError
from kindfleet.fleet import Fleet
from kindfleet.lifecycle import FleetStatus
from kindfleet.lifecycle.results import NOT_OURS, NOT_THERE, WORDS, UpFailed, UpPartialFailure
from kindfleet.providers.base import traits
from kindfleet.providers.preflight import CHECKS

KubeconfigOption = Annotated[
    Path | None,
    typer.Option(
        "--kubeconfig",
        help="Kubeconfig file for the clusters' contexts (default, as kubectl: $KUBECONFIG's "
        "first existing file, else ~/.kube/config). CI: give each run its own file.",
        show_default=False,
        parser=options.path_of("--kubeconfig"),
    ),
]
TimingsOption = Annotated[
    bool,
    typer.Option(
        "--timings",
        help="Measure each cluster's and step's duration (and, for up, its nodes' peak "
        "memory): a table, or `timings` in -o json.",
    ),
]
ClusterOption = Annotated[
    list[str] | None,
    typer.Option("--cluster", "-c", metavar="NAME", help="Only this cluster (repeat for more)."),
]


def _target(fleet: Fleet, kubeconfig: Path | None) -> Path | None:
    """The file contexts are merged into and removed from. A provider that does not manage
    contexts (existing clusters) reads the user's instead, with kubectl's own rule unless
    --kubeconfig names a file."""
    if not traits(fleet.provider(kubeconfig)).manages_kubeconfig:
        return kubeconfig
    return kc.target_path(kubeconfig, os.environ, Path.home())


def _names(fleet: Fleet, only: list[str] | None) -> list[str]:
    return (
        [fleet.spec.cluster(n).name for n in only]
        if only
        else [c.name for c in fleet.spec.clusters]
    )


# --- commands ------------------------------------------------------------------------


def up(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    parallel: Annotated[
        int, typer.Option("--parallel", "-p", min=1, help="Clusters created at the same time.")
    ] = 4,
    kubeconfig: KubeconfigOption = None,
    cluster: ClusterOption = None,
    wait: Annotated[
        float,
        typer.Option(
            parser=options.positive_of("--wait"),
            help="Seconds to wait, per cluster, for Calico and for nodes to be Ready.",
        ),
    ] = 300.0,
    retain: Annotated[
        bool, typer.Option("--retain", help="Keep the nodes of a cluster whose creation failed.")
    ] = False,
    skip_check: Annotated[
        list[str] | None,
        typer.Option(
            "--skip-check",
            metavar="CHECK",
            help=f"Skip a preflight check ({', '.join(CHECKS)}); repeatable.",
        ),
    ] = None,
    calico_manifest: Annotated[
        str | None,
        typer.Option(
            envvar="KINDFLEET_CALICO_MANIFEST",
            help="calico.yaml to install instead of Calico's pinned release: a file or URL "
            "({version} is replaced).",
        ),
    ] = None,
    switch_context: Annotated[
        bool, typer.Option(help="Make the hub's context the current one.")
    ] = True,
    logs_dir: Annotated[
        Path | None,
        typer.Option(
            "--logs-dir",
            metavar="DIR",
            help="Collect a failed cluster's logs (`kind export logs`) into DIR/CLUSTER "
            "before it is removed.",
            parser=options.path_of("--logs-dir"),
        ),
    ] = None,
    preload_images: Annotated[
        bool,
        typer.Option(
            help="Pull Calico's images once on this machine and `kind load` them into the "
            "nodes, instead of every node pulling them (registry rate limits).",
        ),
    ] = True,
    fmt: OutputOption = output.Format.table,
    timings: TimingsOption = False,
) -> None:
    """Bring the fleet up: preflight, registry, every cluster in parallel, Calico, contexts.

    Idempotent: clusters that exist and are ready are kept, so run it again after a
    failure. A cluster whose creation fails is removed (unless --retain) and named; exit
    code 4 when some clusters failed, 3 when a preflight check failed. Ctrl-C removes the
    clusters it had started and not finished.

    Contexts are named like KIND's (`kind-<cluster>`) and merged into the kubeconfig
    file (0600). CI: `kindfleet up -f fleet.yaml --kubeconfig .kube/fleet.yaml`.
    """
    fleet = options.fleet(file)
    for warning in fleet.spec.warnings:
        output.warn(warning)
    target = _target(fleet, kubeconfig)
    started = time.monotonic()
    try:
        with progress(_names(fleet, cluster)) as report:
            result = fleet.up(
                parallel=parallel,
                kubeconfig=target,
                wait=wait,
                retain=retain,
                skip_checks=skip_check or (),
                calico_manifest=calico_manifest,
                preload_images=preload_images,
                logs_dir=logs_dir,
                clusters=cluster,
                switch_context=switch_context,
                timings=timings,
                progress=report,
            )
    except (UpFailed, UpPartialFailure) as exc:
        if fmt is not output.Format.table:  # a script reads what came up, and what not
            _show(exc.result.to_dict(), fmt)
        raise
    except KeyboardInterrupt as exc:
        left = getattr(exc, "left", None)  # lifecycle.up.InterruptedAgain
        if left:
            output.error(
                f"interrupted again while cleaning up: left half-made: {', '.join(left)}",
                f"`kindfleet down -f {file}` removes them",
            )
        else:
            output.error(
                "interrupted: clusters it had begun and not finished were removed (named "
                "above); those up before the interrupt are kept",
                f"`kindfleet status -f {file}` shows what is up",
            )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    took = time.monotonic() - started
    for warning in result.warnings:
        output.warn(warning)
    _show(result.to_dict(), fmt)
    counts: dict[str, int] = {}
    for outcome in result.outcomes:
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
    how = ", ".join(f"{WORDS[k].summary if k in WORDS else k} {v}" for k, v in counts.items())
    output.success(
        f"fleet {fleet.name} is up: {len(result.outcomes)} clusters in {took:.1f}s ({how})"
    )
    if result.kubeconfig:
        hub = fleet.spec.hub
        env = "" if kubeconfig is None else f"--kubeconfig {result.kubeconfig} "
        output.info(f"  kubectl {env}--context {hub.context} get nodes")
        output.info(f"  kindfleet status -f {file}")


def status(
    file: FleetFileOption = Path("fleet.yaml"),
    fmt: OutputOption = output.Format.table,
    cluster: ClusterOption = None,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Show the fleet as it is: clusters, nodes, roles, labels, versions, readiness,
    API endpoints, and the memory each node container uses.

    `-o json` or `-o yaml` for scripts. Exit code 0 even when something is not ready:
    read `ready` in the output.
    """
    fleet = options.fleet(file)
    state = fleet.status(clusters=cluster, kubeconfig=kubeconfig)
    for warning in state.warnings:
        output.warn(warning)
    if fmt is not output.Format.table:
        output.emit(state.to_dict(), fmt)
        return
    _status_tables(state)


_KUBE_LABELS = ("kubernetes.io/", "k8s.io/")


def _own_labels(labels: dict[str, str]) -> str:
    kept = {k: v for k, v in labels.items() if not any(p in k for p in _KUBE_LABELS)}
    return output.labels(kept)


def _memory(value: int | None) -> str:
    if value is None:
        return ""
    for suffix, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value}B"


def _show(data: dict[str, Any], fmt: output.Format) -> None:
    """A result as data (-o json|yaml), or its timings as a table when taken."""
    if fmt is not output.Format.table:
        output.emit(data, fmt)
        return
    measured = data.get("timings")
    if not measured:
        return
    rows = []
    for name, cluster in measured["clusters"].items():
        total = cluster.get("seconds")
        memory = _memory(cluster.get("peakMemoryBytes"))
        rows.append((name or "fleet", "(all)", f"{total:.1f}s" if total else "", memory))
        rows += [("", step, f"{seconds:.1f}s", "") for step, seconds in cluster["steps"].items()]
    output.table(None, ["CLUSTER", "STEP", "SECONDS", "PEAK MEMORY"], rows)


def _yes(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _status_tables(state: FleetStatus) -> None:
    ready = sum(1 for c in state.clusters if c.ready)
    output.table(
        f"fleet {state.fleet} (provider {state.provider}): {ready}/{len(state.clusters)} ready",
        ["CLUSTER", "ROLE", "READY", "VERSION", "NODES", "ENDPOINT", "CONTEXT", "MESSAGE"],
        [
            (
                c.name,
                c.role,
                _yes(c.ready) if c.exists else "absent",
                c.kubernetes_version,
                f"{sum(1 for n in c.nodes if n.ready)}/{len(c.nodes)}" if c.nodes else "",
                c.endpoint,
                c.context,
                c.message,
            )
            for c in state.clusters
        ],
    )
    nodes = [(c, n) for c in state.clusters for n in c.nodes]
    if nodes:
        output.out.print()
        output.table(
            None,
            ["NODE", "CLUSTER", "ROLE", "STATE", "READY", "VERSION", "MEMORY", "ADDRESS", "LABELS"],
            [
                (
                    n.name,
                    c.name,
                    n.role,
                    n.state,
                    _yes(n.ready),
                    n.kubernetes_version,
                    _memory(n.memory_bytes),
                    n.address,
                    _own_labels(dict(n.labels)),
                )
                for c, n in nodes
            ],
        )
    if state.registry:
        reg = state.registry
        where = f"push to {reg.endpoint}, nodes pull from {reg.internal_endpoint}"
        how = "running" if reg.running else ("stopped" if reg.exists else "absent")
        nets = f" on {', '.join(reg.networks)}" if reg.networks else ""
        output.out.print()
        output.out.print(f"registry {reg.name}: {how}{nets}; {where}", highlight=False)


def down(
    ctx: typer.Context,
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="FLEET",
            help="Take down the fleet FLEET from its file as it was at `up` (kept in the "
            "state directory): for a file since moved, deleted or left invalid.",
        ),
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-c", help="Remove only this cluster.")
    ] = None,
    kubeconfig: KubeconfigOption = None,
    parallel: Annotated[
        int, typer.Option("--parallel", "-p", min=1, help="Clusters deleted at the same time.")
    ] = 8,
    fmt: OutputOption = output.Format.table,
    timings: TimingsOption = False,
) -> None:
    """Remove every cluster of the fleet, its registry and its kubeconfig entries.

    With --cluster, only that cluster and its kubeconfig entry (the registry stays).
    Clusters of provider existing are left alone. Exit code 4 names clusters that could
    not be removed.
    """
    fleet = _fleet_to_take_down(ctx, file, name)
    started = time.monotonic()
    with progress([cluster] if cluster else _names(fleet, None)) as report:
        result = fleet.down(
            cluster=cluster,
            kubeconfig=_target(fleet, kubeconfig),
            parallel=parallel,
            timings=timings,
            progress=report,
        )
    took = time.monotonic() - started
    _show(result.to_dict(), fmt)
    deleted = sum(1 for o in result.outcomes if o.action == "delete" and NOT_THERE not in o.notes)
    extra = ["registry"] if result.registry_removed else []
    extra += list(result.tidied)
    more = f", {', '.join(extra)}" if extra else ""
    what = f"cluster {cluster}" if cluster else f"fleet {fleet.name}"
    left = [o.name for o in result.outcomes if NOT_OURS in o.notes]
    if left:
        output.warn(
            f"left alone, not this fleet's though named like its clusters: {', '.join(left)} "
            "(`kindfleet status` says whose; `kind delete cluster --name NAME` if unneeded)"
        )
    if all(o.action == "leave" and NOT_OURS not in o.notes for o in result.outcomes):
        output.info(
            f"{what}: nothing removed (provider {fleet.spec.provider} clusters are not ours)"
        )
        return
    output.success(f"{what} is down in {took:.1f}s ({deleted} clusters deleted{more})")


def _fleet_to_take_down(ctx: typer.Context, file: Path, name: str | None) -> Fleet:
    """The fleet of -f, or with --name the one kept at its `up`; a file that cannot be
    read says how to take its fleet down all the same."""
    from kindfleet import fleetrecord
    from kindfleet.errors import SpecError

    if name is not None:
        if ctx.get_parameter_source("file") not in (None, ParameterSource.DEFAULT):
            raise UsageError(
                "give -f or --name, not both",
                hint="--name takes the fleet down from its file as it was at `up`",
            )
        return Fleet.from_record(name)
    try:
        return options.fleet(file)
    except (SpecError, UsageError) as exc:
        kept = fleetrecord.names()
        if not kept:
            raise
        raise UsageError(
            exc.message,
            hint=f"{exc.hint}; to take down a fleet as it was brought up, whatever its file "
            f"says now: `kindfleet down --name NAME` ({', '.join(kept)})",
        ) from None


def kubeconfig(
    name: Annotated[str, typer.Argument(help="The cluster.")],
    file: FleetFileOption = Path("fleet.yaml"),
    internal: Annotated[
        bool,
        typer.Option(
            "--internal",
            help="The API address on the container network (`https://<cluster>-control-plane:"
            "6443`): what a spoke uses to reach the hub.",
        ),
    ] = False,
) -> None:
    """Print a cluster's kubeconfig (contexts named `kind-<cluster>`).

    `kindfleet kubeconfig platform-hub --internal > hub.kubeconfig` gives what a workload
    inside a spoke needs to reach the hub's API.
    """
    fleet = options.fleet(file)
    text = fleet.kubeconfig(name, internal=internal)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def use(
    name: Annotated[str, typer.Argument(help="The cluster.")],
    file: FleetFileOption = Path("fleet.yaml"),
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Switch the current kubeconfig context to this cluster's (`kind-<cluster>`)."""
    fleet = options.fleet(file)
    target = kc.target_path(kubeconfig, os.environ, Path.home())
    context = fleet.use(name, kubeconfig=target)
    output.success(f"current context: {context} ({target})")
