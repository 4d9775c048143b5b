"""`kindfleet load`: the article's load test against a running fleet, with a live bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption, OutputOption
from kindfleet.errors import EXIT_FAILED, EXIT_INTERRUPTED, UsageError
from kindfleet.faults import parse_duration
from kindfleet.load import LoadOptions, LoadResult, Progress, check


def load(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    requests: Annotated[int, typer.Option("--requests", "-n", min=1)] = 10_000,
    spokes: Annotated[
        int | None, typer.Option("--spokes", min=1, help="Spread over this many spokes.")
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Submissions in flight at once.")
    ] = 16,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            parser=options.positive_of("--rate", "submissions per second"),
            help="Submissions per second at most.",
        ),
    ] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Stop submitting after this long (5m).")
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            "--spec",
            help="A workload file to submit (default: a no-op).",
            parser=options.path_of("--spec"),
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Folder for report.json and report.html.",
            parser=options.path_of("--report"),
        ),
    ] = None,
    fmt: OutputOption = output.Format.table,
) -> None:
    """Submit N workloads, watch them to the end, and report throughput, latencies, the
    spread over spokes, memory, and lost and duplicated work (both must be 0).

    The article's `./scripts/load-test.sh --requests=10000 --spokes=5` is
    `kindfleet load -f fleet.yaml --requests 10000 --spokes 5 --report load-report`.
    Exit code 1 when anything accepted was lost or duplicated.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    from kindfleet import workloadfile
    from kindfleet.load import report as reporting

    workload = None
    if spec is not None:
        found = workloadfile.from_path(spec)
        if len(found) != 1:
            raise UsageError(f"{spec} holds {len(found)} workloads", hint="--spec takes one")
        workload = found[0]
    settings = LoadOptions(
        requests=requests,
        spokes=spokes,
        concurrency=concurrency,
        rate=rate,
        duration=None if duration is None else parse_duration(duration, what="--duration"),
        spec=workload,
    )
    fleet = options.fleet(file)
    check(fleet.spec, settings)  # before the report's folder is made, and the bars shown
    if report is not None:
        reporting.ready(report)  # the report is written after the run: refuse a bad path now
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    seen = [Progress(target=requests)]  # the run's own tally, once it shows one
    unwritten = None
    try:
        with Bar(*columns, console=output.err, transient=not output.err.is_terminal) as bar:
            sent = bar.add_task("submitted", total=requests)
            done = bar.add_task("finished ", total=requests)

            def show(state: Progress) -> None:
                seen[0] = state
                bar.update(sent, completed=state.submitted)
                bar.update(done, completed=state.finished, total=max(state.accepted, 1))

            try:
                result = fleet.load(settings, report=report, progress=show)
            except reporting.ReportError as exc:  # the run's result all the same
                result, unwritten = exc.result, exc
    except KeyboardInterrupt:
        got = seen[0]
        where = f" -l {got.label}" if got.label else ""
        output.error(
            f"interrupted: {_stopped(got, requests)}; what was accepted stays on the fleet "
            "and runs to its end",
            f"`kindfleet workloads -f {file}{where}` shows it; no report was written",
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _show(result, requests, fmt)
    if report is not None and unwritten is None:
        output.info(f"report: {report / 'report.html'}")
    if result.lost or result.duplicated:
        output.error(f"lost {result.lost}, duplicated {result.duplicated}")
    else:
        output.success(f"lost 0, duplicated 0 ({result.accepted} workloads)")
    if unwritten is not None:
        kept = " and ".join(str(p) for p in unwritten.written)
        output.error(
            unwritten.message,
            (unwritten.hint + "; " if unwritten.hint else "")
            + (f"{kept} written; " if kept else "")
            + "the run's figures are the ones above",
        )
    if result.lost or result.duplicated:
        raise typer.Exit(EXIT_FAILED)
    if unwritten is not None:
        raise typer.Exit(unwritten.exit_code)


def _show(result: LoadResult, requests: int, fmt: output.Format) -> None:
    summary = result.summary()
    if fmt is not output.Format.table:
        output.emit(summary, fmt)
        return
    lat, e2e = summary["submit_latency_ms"], summary["end_to_end_s"]
    output.info(
        f"accepted {result.accepted}/{requests} at {summary['submit_per_second']}/s "
        f"(submit p50 {lat.get('p50', 0):.1f} ms, p99 {lat.get('p99', 0):.1f} ms); "
        f"end to end p50 {e2e.get('p50', 0):.2f}s p99 {e2e.get('p99', 0):.2f}s"
    )
    output.info("per spoke: " + ", ".join(f"{k} {v}" for k, v in sorted(result.per_spoke.items())))
    mem = ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(result.memory_bytes.items()))
    output.info(f"peak memory: {mem or 'not known'}")


def _stopped(got: Progress, requests: int) -> str:
    """What an interrupted load left on the fleet, saying how sure the numbers are."""
    if got.exact:
        return (
            f"{got.accepted} of {requests} workloads accepted, {got.finished} finished "
            "(counted on the hub after the stop)"
        )
    if not got.submitted and not got.in_flight:
        return f"0 of {requests} workloads accepted (none was sent)"
    maybe = f"; up to {got.in_flight} more in flight may be accepted too" if got.in_flight else ""
    return (
        f"{got.accepted} of {requests} workloads accepted by the answers read (the hub "
        f"could not be asked{maybe}), how many finished not known"
    )
