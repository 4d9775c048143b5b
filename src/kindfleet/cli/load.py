"""`kindfleet load`: the article's load test against a running fleet, with a live bar."""

from __future__ import annotations

import shlex
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
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout",
            help="How long to wait for the accepted work to finish, and for a hub that "
            "cannot be asked (15m).",
        ),
    ] = "15m",
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
    A hub that cannot be asked (a failover drill beside the load) is waited for until
    `--timeout`; still silent then, the summary and report say how many accepted
    workloads went unchecked. Exit code 1 when anything accepted was lost, duplicated or
    unchecked.
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
        timeout=parse_duration(timeout, what="--timeout"),
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
    _verdict(result, file)
    if unwritten is not None:
        kept = " and ".join(str(p) for p in unwritten.written)
        output.error(
            unwritten.message,
            (unwritten.hint + "; " if unwritten.hint else "")
            + (f"{kept} written; " if kept else "")
            + "the run's figures are the ones above",
        )
    if result.lost or result.duplicated or result.unchecked:
        raise typer.Exit(EXIT_FAILED)
    if unwritten is not None:
        raise typer.Exit(unwritten.exit_code)


def _verdict(result: LoadResult, file: Path) -> None:
    """The run's last word: nothing lost or duplicated, or what was, or what could not
    be checked (a hub that could not be asked is no pass and no loss)."""
    if result.unchecked:
        output.error(*_unchecked(result, file))
    elif result.lost or result.duplicated:
        output.error(f"lost {result.lost}, duplicated {result.duplicated}")
    else:
        output.success(f"lost 0, duplicated 0 ({result.accepted} workloads)")


def _show(result: LoadResult, requests: int, fmt: output.Format) -> None:
    summary = result.summary()
    if fmt is not output.Format.table:
        output.emit(summary, fmt)
        return
    lat, e2e = summary["submit_latency_ms"], summary["end_to_end_s"]
    # none ended as far as the hub told (it could not be asked): not known, not 0 s
    ends = f"p50 {e2e['p50']:.2f}s p99 {e2e['p99']:.2f}s" if e2e else "not known"
    output.info(
        f"accepted {result.accepted}/{requests} at {summary['submit_per_second']}/s "
        f"(submit p50 {lat.get('p50', 0):.1f} ms, p99 {lat.get('p99', 0):.1f} ms); "
        f"end to end {ends}"
    )
    spread = ", ".join(f"{k} {v}" for k, v in sorted(result.per_spoke.items()))
    output.info(f"per spoke: {spread or 'not known'}")
    mem = ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(result.memory_bytes.items()))
    output.info(f"peak memory: {mem or 'not known'}")


def _unchecked(result: LoadResult, file: Path) -> tuple[str, str]:
    """The verdict of a run the hub could not be asked about to its end: the message
    (what is known, what is not, and why) and what to do next."""
    message = (
        f"lost {result.lost}, duplicated {result.duplicated}, unchecked {result.unchecked} "
        f"of {result.accepted} accepted: the hub could not be asked what became of them "
        f"({result.unchecked_why or 'no answer'}); they are counted neither lost nor succeeded"
    )
    where = f" -l {result.label}" if result.label else ""
    path = shlex.quote(str(file))
    then = f"`kindfleet workloads -f {path}{where}` shows what became of them"
    hint = result.unchecked_hint or f"check the hub with `kindfleet status -f {path}`"
    return message, f"{hint}; once it answers, {then}"


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
