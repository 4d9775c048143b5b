"""Commands that put the platform on the clusters: `deploy`, and `manifests` (what deploy
would apply, with no cluster needed).

Flags become keyword arguments of `Fleet.deploy` and `Fleet.manifests`; progress is shown
as `up` shows it (one line per step, or per cluster); manifests go to stdout, messages to
stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption
from kindfleet.cli.progress import progress
from kindfleet.deploy import manifests_stream
from kindfleet.errors import EXIT_INTERRUPTED, UsageError

ImageOption = Annotated[
    str | None,
    typer.Option(
        "--image",
        metavar="REF",
        help="A prebuilt platform image instead of building one (provider existing: one "
        "the clusters can pull).",
        parser=options.image_of("--image"),
    ),
]
HubUrlOption = Annotated[
    str | None,
    typer.Option(
        "--hub-url",
        metavar="URL",
        help="How spokes reach the hub (required for provider existing), e.g. "
        "https://hub.example.com.",
    ),
]
KubeconfigOption = Annotated[
    Path | None,
    typer.Option(
        "--kubeconfig",
        help="Where provider existing finds the clusters' contexts (default: kubectl's own "
        "rule). KIND clusters are reached through kind itself.",
        show_default=False,
        parser=options.path_of("--kubeconfig"),
    ),
]
DataOption = Annotated[
    output.DataFormat,
    typer.Option("--output", "-o", help="yaml (a multi-document stream) or json (a v1 List)."),
]


def _pairs(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(
                f"--build-arg {item!r} is not KEY=VALUE",
                hint="e.g. --build-arg PYTHON_IMAGE=mirror.example.com/python:3.11-slim",
            )
        out[key] = value
    return out


def _print(manifests: Mapping[str, list[dict[str, Any]]], fmt: output.DataFormat) -> None:
    if fmt is output.DataFormat.json:
        items = [obj for objects in manifests.values() for obj in objects]
        output.emit({"apiVersion": "v1", "kind": "List", "items": items}, fmt)
    else:
        sys.stdout.write(manifests_stream(manifests))


def deploy(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    image: ImageOption = None,
    build_context: Annotated[
        Path | None,
        typer.Option(
            "--build-context",
            metavar="DIR",
            help="Build the image from this directory (default: this installation's source "
            "tree, when it has a Dockerfile).",
            parser=options.path_of("--build-context"),
        ),
    ] = None,
    build_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--build-arg",
            metavar="KEY=VALUE",
            help="Passed to docker build; e.g. PYTHON_IMAGE=<a Python 3.11+ image you can "
            "pull>. Repeatable.",
        ),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            help="Name of the built image (default kindfleet/platform:VERSION).",
            parser=options.image_of("--tag"),
        ),
    ] = None,
    hub_url: HubUrlOption = None,
    kubeconfig: KubeconfigOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Look at the clusters, render and validate; print what would be applied. "
            "Nothing is built, pushed or applied.",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait", help="Wait for the pods, then for every spoke Ready in the hub."
        ),
    ] = True,
    timeout: Annotated[
        float,
        typer.Option(
            parser=options.positive_of("--timeout"),
            help="Seconds to wait for each cluster's pods and for the spokes.",
        ),
    ] = 300.0,
    parallel: Annotated[
        int, typer.Option("--parallel", "-p", min=1, help="Clusters worked on at the same time.")
    ] = 4,
    fmt: Annotated[
        output.DataFormat,
        typer.Option("--output", "-o", help="With --dry-run: yaml (a stream) or json (a v1 List)."),
    ] = output.DataFormat.yaml,
) -> None:
    """Deploy the hub-spoke platform: the hub on the hub cluster, an orchestrator on
    every spoke, wired together over the container network.

    Builds the platform image (or takes --image), pushes it to the fleet's registry or
    loads it into every cluster, gives GPU nodes their simulated `nvidia.com/gpu`,
    renders and validates the manifests, applies the hub, then the spokes, and waits until
    every spoke is Ready in the hub. Run it again after a change: it is idempotent.

    Provider existing: `kindfleet deploy --image REGISTRY/kindfleet/platform:TAG
    --hub-url https://hub.example.com`.
    """
    fleet = options.fleet(file)
    for warning in fleet.spec.warnings:
        output.warn(warning)
    try:
        with progress([c.name for c in fleet.spec.clusters]) as report:
            result = fleet.deploy(
                image=image,
                build_context=build_context,
                build_args=_pairs(build_arg),
                tag=tag,
                hub_url=hub_url,
                kubeconfig=kubeconfig,
                dry_run=dry_run,
                wait=wait,
                wait_seconds=timeout,
                parallel=parallel,
                progress=report,
            )
    except KeyboardInterrupt:
        output.error(
            "interrupted: what was applied stays",
            f"`kindfleet deploy -f {file}` again finishes the job (it is idempotent)",
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    clusters = len(result.manifests)
    if dry_run:
        _print(result.manifests, fmt)
        output.success(
            f"dry run: {result.objects} objects for {clusters} clusters would be applied "
            f"(image {result.image}; spokes dial {result.hub_url}); nothing was built, "
            "pushed or applied"
        )
        return
    output.success(
        f"platform deployed on fleet {fleet.name} in {result.seconds:.1f}s: {result.objects} "
        f"objects on {clusters} clusters, image {result.image}"
    )
    output.info(f"  spokes dial {result.hub_url}; this machine: {result.access_url}")
    if result.spokes_ready:
        output.info(f"  spokes Ready in the hub: {', '.join(sorted(result.spokes_ready))}")
    output.info(f"  next: kindfleet submit -f {file} -- echo hello; kindfleet workloads -f {file}")


def manifests(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-c", help="Only this cluster's manifests.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Write DIR/CLUSTER/ with one file per object and a kustomization.yaml "
            "(`kubectl apply -k DIR/CLUSTER`).",
            parser=options.path_of("--out"),
        ),
    ] = None,
    show_secrets: Annotated[
        bool,
        typer.Option(
            "--show-secrets",
            help="Fill in the fleet's stored client token (created on first use) instead of "
            "a placeholder. Spokes' join tokens stay placeholders: a running hub mints them "
            "(`kindfleet spokes token NAME`).",
        ),
    ] = False,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            metavar="REF",
            help="The image to name (default: what deploy would build).",
            parser=options.image_of("--image"),
        ),
    ] = None,
    hub_url: Annotated[
        str | None,
        typer.Option("--hub-url", metavar="URL", help="How spokes reach the hub, as for deploy."),
    ] = None,
    fmt: DataOption = output.DataFormat.yaml,
) -> None:
    """Print what `kindfleet deploy` would apply, with no cluster needed.

    One multi-document YAML stream (each cluster's objects under a `# cluster NAME`
    comment), or with --out one directory per cluster with a kustomization.yaml. Addresses
    only deploy can know (the hub node's IP, the API servers') are left to the container
    network here; secrets are placeholders unless --show-secrets.
    """
    fleet = options.fleet(file)
    chosen = {"cluster": cluster, "image": image, "hub_url": hub_url}
    if out is None:
        _print(fleet.manifests(**chosen, show_secrets=show_secrets), fmt)
        return
    for directory, count in fleet.write_manifests(out, **chosen, show_secrets=show_secrets):
        context = fleet.spec.cluster(directory.name).context
        output.success(f"wrote {directory} ({count} objects)")
        output.info(f"  kubectl --context {context} apply -k {directory}")
