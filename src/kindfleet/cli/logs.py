"""`kindfleet logs`: a run's log (`kindfleet logs ID`), and every cluster's and the
platform's logs in one folder (`kindfleet logs export`), the way kind's CI collects them.

One group with two commands, where a first word that is not a command is a workload id:
`kindfleet logs 3f2a...` reads as `kindfleet logs show 3f2a...`, so the command people
already type keeps working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer import _click
from typer.core import TyperGroup

from kindfleet.cli import options, output, workloads
from kindfleet.cli.options import FleetFileOption
from kindfleet.cli.progress import progress
from kindfleet.errors import UsageError

DEFAULT = "show"
HELP = "Print a run's log, or export every cluster's and the platform's logs."


class WorkloadOrCommand(TyperGroup):
    """A group whose first word, when it names no command, is the default command's."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        first = next((a for a in args if not a.startswith("-")), None)
        asks_help = any(a in ("-h", "--help") for a in args) and first is None
        if args and not asks_help and first not in self.commands:
            args = [DEFAULT, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: _click.Context, formatter: Any) -> None:
        formatter.write_usage(ctx.command_path, "[ID | export] [OPTIONS]")


app = typer.Typer(
    cls=WorkloadOrCommand,
    help=f"{HELP}\n\n`kindfleet logs ID` is `kindfleet logs show ID`.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
app.command(DEFAULT)(workloads.logs)


@app.command("export")
def export(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="A new or empty folder (default: a new one in the temp directory).",
            parser=options.path_of("--out"),
        ),
    ] = None,
    cluster: Annotated[
        list[str] | None,
        typer.Option("--cluster", "-c", metavar="NAME", help="Only this cluster (repeatable)."),
    ] = None,
) -> None:
    """Every cluster's logs (kind: `kind export logs` of every node) and the platform's pods'
    logs, descriptions and events, in one folder: what to attach to a bug report or keep as
    a CI artifact. Best effort: what could not be had is listed in DIR/summary.txt.
    """
    if out is not None:
        _new_folder(out)
    fleet = options.fleet(file)
    names = [fleet.spec.cluster(n).name for n in cluster] if cluster else None
    with progress(names or [c.name for c in fleet.spec.clusters]) as report:
        result = fleet.export_logs(out, clusters=names, progress=report)
    for problem in result.problems:
        output.warn(problem)
    output.success(f"logs of {len(result.clusters)} clusters in {result.directory}")
    typer.echo(str(result.directory))


def _new_folder(out: Path) -> None:
    """`--out` is a folder of the export's own: made here, or one that is empty. A folder
    with files in it had them replaced without a word (its `summary.txt`, a node's logs),
    `--out ""` meant the current directory, and one that cannot be made was "a bug"."""
    hint = "give a new folder (it is made) or an empty one, e.g. --out logs/$(date +%s)"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file, not a folder", hint=hint)
    try:
        out.mkdir(parents=True, exist_ok=True)
        used = any(out.iterdir())
    except OSError as exc:
        raise UsageError(f"--out {str(out)!r}: {exc.strerror or exc}", hint=hint) from None
    if used:
        raise UsageError(
            f"--out {str(out)!r} is not empty: the export would replace its files", hint=hint
        )
