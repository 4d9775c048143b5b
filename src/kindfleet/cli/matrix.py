"""`kindfleet matrix`: the fleet at each Kubernetes version, one line per version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption, OutputOption
from kindfleet.errors import EXIT_FAILED, EXIT_INTERRUPTED, writing
from kindfleet.faults import parse_duration
from kindfleet.kind import images
from kindfleet.providers.preflight import CHECKS

_ICON = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "error": "[red]![/]"}


def _line(version: str, what: str) -> None:
    if what in _ICON:
        output.err.print(f" {_ICON[what]} {version} {what}", highlight=False)
    else:
        output.info(f" • {version}: {what}")


def matrix(
    command: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[-- COMMAND ...]",
            help="Run after each `up` (default: `kindfleet check`); {file}, {kubeconfig} "
            "and {version} are replaced, and KINDFLEET_FILE, KUBECONFIG, "
            "KINDFLEET_MATRIX_VERSION are set.",
            show_default=False,
        ),
    ] = None,
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    versions: Annotated[
        list[str],
        typer.Option(
            "--versions",
            metavar="VERSIONS",
            help=f"Kubernetes versions, comma-separated or repeated, e.g. 1.35,1.36 "
            f"(pinned: {', '.join(images.available())}).",
        ),
    ],
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", "-c", metavar="NAME", help="Vary only this cluster's version."),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel",
            "-p",
            help="Fleets at once (each with its own names, subnets and host ports), at most "
            "what preflight says the machine holds.",
        ),
    ] = 1,
    fmt: OutputOption = output.Format.table,
    junit_dir: Annotated[
        Path | None,
        typer.Option(
            "--junit-dir",
            metavar="DIR",
            help="Write matrix-VERSION.xml per version (and the default check's "
            "check-VERSION.xml) here.",
            parser=options.path_of("--junit-dir"),
        ),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            metavar="DIR",
            help="Each version's fleet file, kubeconfig, command log and logs go to "
            "DIR/VERSION (default: a new folder in the temp directory).",
            parser=options.path_of("--workdir"),
        ),
    ] = None,
    skip_check: Annotated[
        list[str] | None,
        typer.Option(
            "--skip-check",
            metavar="CHECK",
            help=f"Skip a preflight check of each `up` ({', '.join(CHECKS)}); repeatable.",
        ),
    ] = None,
    write_fleets: Annotated[
        Path | None,
        typer.Option(
            "--write-fleets",
            metavar="DIR",
            help="Only write each version's fleet file to DIR/LABEL/fleet.yaml (LABEL: "
            "v1-35) and print their paths; nothing is brought up. CI uses it.",
            parser=options.path_of("--write-fleets"),
        ),
    ] = None,
    timeout: Annotated[
        str, typer.Option("--timeout", help="The longest the command may run, per version.")
    ] = "1h",
    wait: Annotated[
        float,
        typer.Option(
            parser=options.positive_of("--wait"),
            help="Seconds `up` waits, per cluster, for nodes to be Ready.",
        ),
    ] = 300.0,
) -> None:
    """Bring the fleet up at each Kubernetes version, run a command on it, keep its logs
    when it fails, take it down (always), and show one line per version.

    `kindfleet matrix -f fleet.yaml --versions 1.35,1.36 -- kindfleet check --suite comms`.
    Each version's fleet is renamed (`dev` at 1.35 is `dev-v1-35`). Exit code 0 when
    every version passed, 1 otherwise. With provider local the version only labels the run.
    """
    from kindfleet import matrix as matrices

    asked = matrices.parse_versions(versions)
    opts = matrices.MatrixOptions(
        command=tuple(command or ()),
        parallel=parallel,
        cluster=cluster,
        workdir=workdir,
        junit_dir=junit_dir,
        command_timeout=parse_duration(timeout, what="--timeout"),
        wait=wait,
        provider=options.provider_override.get(),
        skip_checks=tuple(skip_check or ()),
    )
    made = matrices.load_plan(file, asked, opts)
    if write_fleets is not None:
        with writing(write_fleets):
            paths = matrices.write_fleets(made, write_fleets)
        if fmt is not output.Format.table:
            fleets = zip(made.runs, paths, strict=True)
            output.emit(
                [{"version": r.version, "fleet": r.fleet, "file": str(p)} for r, p in fleets], fmt
            )
            return
        for path in paths:
            typer.echo(str(path))
        return
    if made.parallel < min(parallel, len(asked)):
        output.warn(
            f"--parallel {parallel}: preflight says this machine holds {made.parallel} "
            f"of these fleets at once (memory, inotify); running {made.parallel}"
        )
    try:
        result = matrices.run(made, opts, progress=_line)
    except KeyboardInterrupt:
        output.error(
            "interrupted: the versions under way were taken down, the others not begun",
            "each version's folder holds its fleet file and command.log",
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if fmt is not output.Format.table:
        output.emit(result.to_dict(), fmt)
    else:
        output.table(
            None,
            ["VERSION", "RESULT", "DURATION", "FLEET", "LOGS"],
            [
                (r.version, r.outcome, f"{r.seconds:.1f}s", r.fleet, r.logs or "")
                for r in result.runs
            ],
        )
    passed = sum(r.outcome == "passed" for r in result.runs)
    summary = f"{passed} of {len(result.runs)} versions passed"
    if result.ok:
        output.success(summary)
        return
    output.error(summary, "each version's folder holds its command.log and logs/")
    raise typer.Exit(EXIT_FAILED)
