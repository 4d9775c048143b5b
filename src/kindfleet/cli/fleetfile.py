"""Commands over the fleet file alone: init, validate, render. No cluster needed."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption, OutputOption
from kindfleet.errors import MAX_SHOWN, SpecError, UsageError, writing
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.render import kindconfig, registry
from kindfleet.units import format_cpu, format_memory


def _template(name: str) -> str:
    return resources.files("kindfleet").joinpath("templates", name).read_text(encoding="utf-8")


def init(
    path: Annotated[
        Path,
        typer.Argument(help="Where to write the fleet file.", parser=options.path_of("PATH")),
    ] = Path("fleet.yaml"),
    minimal: Annotated[
        bool,
        typer.Option("--minimal", help="A name and `spokes: 2`, every default left to kindfleet."),
    ] = False,
    local: Annotated[
        bool, typer.Option("--local", help="A fleet for the embedded runtime (no Docker).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    makefile: Annotated[
        Path | None,
        typer.Option(
            "--makefile",
            help="Also write a Makefile with the article's targets (kind-up, deploy-local, "
            "test-failover, load-test, kind-down) as kindfleet commands.",
            show_default=False,
            parser=options.path_of("--makefile"),
        ),
    ] = None,
) -> None:
    """Write a fleet file to start from.

    By default it is the article's setup: a hub with management labels and three
    Calico spokes with GPU-labelled compute workers, plus a local registry. With
    --makefile, an existing fleet file is kept and only the Makefile is written.
    """
    if makefile is not None:
        if makefile.exists() and not force:
            raise UsageError(f"{makefile} already exists", hint="pass --force to overwrite it")
        with writing(makefile):
            makefile.parent.mkdir(parents=True, exist_ok=True)  # as `ci` makes its folder
            makefile.write_text(
                _template("article.mk").replace("{fleet}", str(path)), encoding="utf-8"
            )
        output.success(
            f"wrote {makefile}: make kind-up, deploy-local, test-failover, load-test, kind-down"
        )
        if path.exists():
            return
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to overwrite it")
    name = "minimal.yaml" if minimal else "local.yaml" if local else "article.yaml"
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_template(name), encoding="utf-8")
    output.success(f"wrote {path}")
    output.info(f"next: kindfleet validate -f {path}")


def invalid(exc: SpecError) -> dict[str, object]:
    """An invalid fleet file as `validate -o json|yaml` prints it."""
    return {
        "valid": False,
        "source": exc.source,
        "count": exc.count,
        "problems": [
            {"path": p.path, "message": p.message, "fix": p.fix} for p in exc.problems[:MAX_SHOWN]
        ],
    }


def validate(
    file: FleetFileOption = Path("fleet.yaml"), fmt: OutputOption = output.Format.table
) -> None:
    """Check a fleet file and show what it resolves to.

    Every problem is reported at once, each with its path (e.g.
    `spokes[1].nodes[0].labels`) and a fix; the exit code is 2 when any is found. With
    `-o json|yaml` an invalid file is a document too: `valid: false` and its problems.
    """
    try:
        spec = options.spec(file)
    except SpecError as exc:
        if fmt is not output.Format.table:
            output.emit(invalid(exc), fmt)  # a script reads what is wrong, not only that
        raise
    for warning in spec.warnings:
        output.warn(warning)
    for note in spec.notes:
        output.info(f"note: {note}")
    if fmt is not output.Format.table:
        output.emit(spec.to_dict(), fmt)
        return
    title = f"fleet {spec.name} (provider {spec.provider}, kind {spec.kind_version})"
    if not spec.rules.kubernetes:
        output.table(
            f"fleet {spec.name} (provider {spec.provider}: processes on this machine, "
            "not Kubernetes)",
            ["CLUSTER", "ROLE", "CPU", "MEMORY", "GPUS", "LABELS"],
            [
                (
                    c.name,
                    c.role,
                    format_cpu(c.capacity.cpu_millis),
                    format_memory(c.capacity.memory_bytes),
                    c.capacity.gpus or "",
                    output.labels(c.labels),
                )
                for c in spec.clusters
            ],
        )
    else:
        output.table(
            title,
            [
                "CLUSTER",
                "ROLE",
                "NODES",
                "GPUS",
                "VERSION",
                "CNI",
                "POD SUBNET",
                "SERVICE SUBNET",
                "LABELS",
            ],
            [
                (
                    c.name,
                    c.role,
                    f"{len(c.control_planes)}+{len(c.workers)}",
                    c.gpus or "",
                    c.kubernetes_version,
                    c.networking.cni,
                    c.networking.pod_subnet,
                    c.networking.service_subnet,
                    output.labels(c.labels),
                )
                for c in spec.clusters
            ],
        )
    if spec.registry:
        reg = spec.registry
        pull = reg.internal_endpoint
        output.info(f"registry {reg.name}: push to {reg.host_endpoint}, nodes pull from {pull}")
    output.success(f"{file} is valid")


def render(
    file: FleetFileOption = Path("fleet.yaml"),
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-c", help="Only this cluster's config.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write one <cluster>.yaml per cluster into this directory.",
            parser=options.path_of("--out"),
        ),
    ] = None,
    fmt: Annotated[
        output.DataFormat,
        typer.Option(
            "--output",
            "-o",
            help="yaml (one document per cluster) or json (one object for one cluster, "
            "else a list).",
        ),
    ] = output.DataFormat.yaml,
) -> None:
    """Print the KIND config of every cluster (what `kind create cluster --config` takes).

    Feed one straight to kind:
    `kindfleet render -f fleet.yaml -c platform-hub | kind create cluster --config -`
    """
    fleet = options.fleet(file)
    if out is not None:
        written = fleet.write_kind_configs(out, cluster)
        for path in written:
            output.success(f"wrote {path}")
        _registry_steps(fleet.spec, [p.stem for p in written])
        return
    configs = fleet.kind_configs(cluster)
    if fmt is output.DataFormat.json:
        values = list(configs.values())
        output.emit(values[0] if len(values) == 1 else values, fmt)
    else:
        output.out.file.write(kindconfig.to_yaml_stream(configs))
    if len(configs) > 1 and not sys.stdout.isatty():
        first = next(iter(configs))
        output.info(
            f"note: {len(configs)} configs in one stream; `kind create cluster --config -` "
            f"reads only the first. Pipe one cluster: `kindfleet render -f {file} -c {first} "
            "| kind create cluster --config -`, or write one file each with `--out DIR`"
        )
    _registry_steps(fleet.spec, list(configs))


def _registry_steps(spec: FleetSpec, clusters: list[str]) -> None:
    """`up` wires the registry into each node; plain `kind create cluster` does not."""
    if spec.registry is None or not spec.rules.uses_registry:
        return
    output.info(
        f"note: kind create cluster does not wire the registry {spec.registry.name} into "
        "these clusters (kindfleet up does); with plain kind, also run:\n"
        + registry.plain_kind_steps(spec.registry, clusters)
    )
