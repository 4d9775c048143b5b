"""`kindfleet check`: the suites against the fleet's platform, one line per check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kindfleet.checks.model import FAILED, PASSED, CheckResult
from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption, OutputOption
from kindfleet.errors import EXIT_FAILED, UsageError
from kindfleet.faults import parse_duration

_ICON = {PASSED: "[green]✓[/]", FAILED: "[red]✗[/]"}


def _line(result: CheckResult) -> None:
    icon = _ICON.get(result.outcome, "[yellow]-[/]")
    how = "" if result.outcome != "skipped" else "skipped: "
    from rich.markup import escape

    said = escape(output.printable(result.message))  # a check's words, whatever they quote
    output.err.print(
        f" {icon} {result.id} ({result.seconds:.1f}s) [dim]{how}{said}[/]", highlight=False
    )


def check(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    suite: Annotated[
        list[str] | None,
        typer.Option(
            "--suite",
            "-s",
            metavar="SUITES",
            help="comms, routing, telemetry, failover, isolation (comma-separated or "
            "repeated; one check: failover/spoke-kill). Default: all.",
        ),
    ] = None,
    fmt: OutputOption = output.Format.table,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit",
            help="Write JUnit XML here (one testcase per check).",
            parser=options.path_of("--junit"),
        ),
    ] = None,
    lost_after: Annotated[
        str | None,
        typer.Option(
            "--lost-after",
            help="The hub's loss window (e.g. 30s) when known; else the failover suite "
            "measures it.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        str, typer.Option("--timeout", help="The longest one wait of a check may take.")
    ] = "180s",
    kubeconfig: Annotated[
        Path | None,
        typer.Option(
            "--kubeconfig",
            help="Kubeconfig with the clusters' contexts.",
            parser=options.path_of("--kubeconfig"),
        ),
    ] = None,
) -> None:
    """Run check suites against the fleet's platform (the article's integration tests).

    `kindfleet check --suite failover` is the article's `make test-failover`. Exit code 0
    when every check passed or was skipped (with its reason), 1 when one failed (or
    the `--junit` file could not be written: said after the results).
    """
    names = [n.strip() for item in suite or [] for n in item.split(",") if n.strip()]
    if suite is not None and not names:  # it ran every suite, the failover drills included
        raise UsageError(
            f"--suite {','.join(suite)!r} names no suite",
            hint="e.g. --suite comms,routing; leave --suite out to run them all",
        )
    window = parse_duration(lost_after, what="--lost-after") if lost_after else None
    limit = parse_duration(timeout, what="--timeout")
    if junit is not None:
        output.writable(junit, "--junit")
    fleet = options.fleet(file)
    report = fleet.check(
        names or None,
        lost_after=window,
        timeout=limit,
        kubeconfig=kubeconfig,
        progress=_line,
        starting=lambda name: output.info(f" • {name} ...") if output.err.is_terminal else None,
    )
    if fmt is not output.Format.table:
        output.emit(report.to_dict(), fmt)
    counts = report.counts()
    summary = f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
    if report.ok:
        output.success(f"{summary} in {report.seconds:.0f}s")
    else:
        output.error(f"{summary} in {report.seconds:.0f}s")
    written = junit is None or output.write_file(junit, report.junit(), "--junit")
    if not (report.ok and written):
        raise typer.Exit(EXIT_FAILED)
