"""Commands over the platform's workloads: submit, list, explain, cancel, logs, telemetry.

They talk to the fleet's hub (found through the fleet file), except `logs`, which reads
from the spoke that ran the work: logs never travel through the hub.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from typer._click.core import ParameterSource

from kindfleet import workloadfile
from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption, OutputOption, fleet
from kindfleet.errors import UsageError
from kindfleet.platform.client import HubRequestError, HubUnavailable
from kindfleet.platform.exclusive import DEFAULT_LEASE, SPOKE_GRACE, margin
from kindfleet.platform.wire import SubmitResponse, Workload, WorkloadState


def submit(
    ctx: typer.Context,
    *,
    command: Annotated[
        list[str] | None, typer.Argument(help="The command to run (after --).")
    ] = None,
    file: FleetFileOption = Path("fleet.yaml"),
    name: Annotated[str | None, typer.Option("--name", "-n", help="Workload name.")] = None,
    spec_file: Annotated[
        Path | None,
        typer.Option(
            "--spec",
            help="A workload spec (YAML), or a list of them.",
            parser=options.path_of("--spec"),
        ),
    ] = None,
    cpu: Annotated[str, typer.Option(help="cpu per run, e.g. 500m or 2.")] = "100m",
    memory: Annotated[
        str, typer.Option(help="memory per run, e.g. 256Mi; a run past it is OOMKilled.")
    ] = "128Mi",
    gpu: Annotated[int, typer.Option(help="whole GPUs per run.")] = 0,
    selector: Annotated[
        list[str] | None,
        typer.Option(
            help="which spokes may run it, by their labels, as kubectl's -l: gpu=true, "
            "'pool!=cpu', 'zone in (a,b)', gpu (has the label), '!gpu'; repeatable.",
        ),
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE in the run's environment; repeatable.")
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            "-l",
            help="KEY=VALUE on the workload, to find it by (`kindfleet workloads -l`); repeatable.",
        ),
    ] = None,
    image: Annotated[str | None, typer.Option(help="container image (Kubernetes spokes).")] = None,
    priority: Annotated[int, typer.Option(help="higher runs first.")] = 0,
    retries: Annotated[int, typer.Option(help="retries after a failure or a lost spoke.")] = 0,
    pending_deadline: Annotated[
        float | None, typer.Option(help="give up if not placed within SECONDS.")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="stop a run after SECONDS.")] = None,
    exclusive: Annotated[
        bool,
        typer.Option(
            "--exclusive",
            help="never two runs at once, even with its spoke cut off: the spoke stops the "
            "run when the hub has not answered for its lease (docs/platform.md).",
        ),
    ] = False,
    lease: Annotated[
        float | None,
        typer.Option(
            "--lease-seconds",
            help=f"exclusive work's lease (implies --exclusive; default {DEFAULT_LEASE:g}).",
        ),
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="idempotency key: submitting twice with it runs once.")
    ] = None,
    fmt: OutputOption = output.Format.table,
) -> None:
    """Submit work to the fleet's hub; it is placed on a spoke whose labels and free
    capacity fit.

    `kindfleet submit -n train --gpu 1 --selector gpu=true -- python train.py`

    `kindfleet submit --spec workloads.yaml` (a WorkloadSpec, or a list of them, sent in
    batches of 1000, each stored whole; with --key, sending the file again runs none twice)
    """
    if spec_file is not None:
        _only_spec(ctx, command)
        specs = workloadfile.from_path(spec_file)
    elif command and name:
        specs = [
            workloadfile.from_flags(
                name=name,
                command=command,
                cpu=cpu,
                memory=memory,
                gpu=gpu,
                selector=workloadfile.selector_from(selector),
                env=workloadfile.pairs(env, "--env"),
                labels=workloadfile.labels_from(label, "--label"),
                image=image,
                priority=priority,
                retries=retries,
                pending_deadline=pending_deadline,
                timeout=timeout,
                exclusive=exclusive,
                lease=lease,
            )
        ]
    else:
        raise UsageError(
            "give --name and a command after --, or --spec FILE",
            hint="kindfleet submit -n hello -- echo hello",
        )
    done: list[SubmitResponse] = []
    flying = [0]  # the batch on its way: stored or not, the hub has not said yet

    def stored(batch: list[SubmitResponse]) -> None:
        done.extend(batch)
        flying[0] = 0

    try:
        results = fleet(file).submit(
            specs, key=key, sending=lambda n: flying.__setitem__(0, n), submitted=stored
        )
    except BaseException as exc:
        if len(specs) > 1 and (done or flying[0]):
            refused = isinstance(exc, HubRequestError) and not isinstance(exc, HubUnavailable)
            output.warn(_submitted_part(len(done), flying[0], len(specs), key, refused=refused))
        raise
    if fmt is not output.Format.table:
        output.emit([r.model_dump(mode="json") for r in results], fmt)
        return
    for result in results:
        w = result.workload
        verb = "submitted" if result.created else "already submitted"
        output.success(f"{verb} {w.spec.name}: {w.id} ({w.state})")
    output.info("watch with `kindfleet workloads`; ask `kindfleet explain ID` if one stays Pending")


# What --spec leaves to the file: a workload's own fields, which these flags would set.
_SPEC_FIELDS = (
    "name", "cpu", "memory", "gpu", "selector", "env", "label", "image", "priority",
    "retries", "pending_deadline", "timeout", "exclusive", "lease",
)  # fmt: skip


def _only_spec(ctx: typer.Context, command: list[str] | None) -> None:
    """--spec takes the workloads as the file has them: a flag that would set one of
    their fields beside it is refused, not dropped in silence."""
    given = [
        max(param.opts, key=len)  # its long flag, as the user may have typed it
        for param in ctx.command.params
        if param.name in _SPEC_FIELDS
        and ctx.get_parameter_source(param.name) not in (None, ParameterSource.DEFAULT)
    ]
    if command:
        given.append("a command after --")
    if given:
        raise UsageError(
            f"--spec takes the workloads as its file has them; {', '.join(given)} would be dropped",
            hint="set these in the file, or drop --spec and give the workload by flags",
        )


def _submitted_part(done: int, flying: int, total: int, key: str | None, *, refused: bool) -> str:
    """What a submission of a list stopped half way leaves: the first `done` stored, then
    a batch of `flying` the hub refused whole (`refused`), or may have stored."""
    if refused:
        said = (
            f"the hub refused workloads {done + 1}-{done + flying} of {total} (one batch, "
            f"stored as none; an item it names as items[i] is workload {done + 1} + i of the "
            f"list), after the first {done} were stored"
        )
        again = (
            f"fix it, then submit the file with --key {key} again: those stored are not sent twice"
            if key
            else "fix it, then submit only the workloads after them (without --key, those "
            "stored would be stored again)"
        )
        return f"{said}; {again}"
    said = f"stopped with the first {done} of {total} workloads stored"
    if flying:
        said += f", and the {flying} sent after them maybe stored too (the hub had not answered)"
    again = (
        f"submitting the file with --key {key} again stores each once"
        if key
        else "submitting the file again would store them twice: `kindfleet workloads` shows "
        "what is there; give --key to make a list safe to send again"
    )
    return f"{said}; {again}"


def _age(workload: Workload) -> str:
    seconds = (datetime.now(UTC) - workload.submitted_at).total_seconds()
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.0f}h"


def _mode(workload: Workload) -> str:
    lease = workload.spec.lease
    return workload.spec.mode.value if lease is None else f"exclusive {lease:g}s"


def workloads(
    *,
    workload: Annotated[
        str | None, typer.Argument(help="One workload's id: show it whole.")
    ] = None,
    file: FleetFileOption = Path("fleet.yaml"),
    state: Annotated[WorkloadState | None, typer.Option(help="Only this state.")] = None,
    spoke: Annotated[str | None, typer.Option(help="Only work on this spoke.")] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label", "-l", help="Only work labelled KEY=VALUE; repeatable (each must match)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    fmt: OutputOption = output.Format.table,
) -> None:
    """List workloads (newest first) with their state and where they run.

    `kindfleet workloads -l team=vision --state Running`."""
    labels = workloadfile.labels_from(label, "--label")
    with fleet(file).hub() as hub:
        if workload:
            one = hub.get(workload)
            output.emit(
                one.model_dump(mode="json"),
                output.Format.yaml if fmt is output.Format.table else fmt,
            )
            return
        items = hub.list_workloads(state=state, spoke=spoke, labels=labels, limit=limit).items
    if fmt is not output.Format.table:
        output.emit([w.model_dump(mode="json") for w in items], fmt)
        return
    output.table(
        None,
        ["ID", "NAME", "MODE", "STATE", "SPOKE", "ATTEMPT", "RETRIES", "AGE", "REASON"],
        [
            (
                w.id,
                w.spec.name,
                _mode(w),
                w.state,
                w.spoke or "",
                w.generation or "",
                w.retries_used or "",
                _age(w),
                w.reason or "",
            )
            for w in items
        ],
    )


def explain(
    *,
    workload: Annotated[str, typer.Argument(help="The workload's id.")],
    file: FleetFileOption = Path("fleet.yaml"),
    fmt: OutputOption = output.Format.table,
) -> None:
    """Why is my workload still pending? Every spoke considered, what each lacked, and the
    workload's place in the queue."""
    with fleet(file).hub() as hub:
        answer = hub.explain(workload)
    if fmt is not output.Format.table:
        output.emit(answer.model_dump(mode="json"), fmt)
        return
    said = output.printable(f"{answer.workload}: {answer.state}. {answer.summary}")
    output.out.print(said, highlight=False, markup=False)  # it quotes what runs said
    if answer.lease_seconds is not None:
        lease = answer.lease_seconds
        output.out.print(
            f"exclusive, lease {lease:g}s: its spoke stops a run when the hub has not answered"
            f" for {lease - margin(lease, SPOKE_GRACE):g}s (with the spoke's default stop"
            f" grace); the hub places it again only after {lease:g}s of silence",
            highlight=False,
        )
    else:
        output.out.print(
            "autonomous: runs on while the hub is unreachable; re-routed once its spoke is"
            " Lost (a cut-off copy is fenced when it reconnects)",
            highlight=False,
        )
    if answer.queue_position is not None:
        output.out.print(f"queue position {answer.queue_position} of {answer.queue_length}")
    output.table(
        None,
        ["SPOKE", "FITS", "WHY NOT"],
        [(v.spoke, "yes" if v.fits else "no", "; ".join(v.reasons)) for v in answer.considered],
    )


def cancel(
    *,
    workload: Annotated[str, typer.Argument(help="The workload's id.")],
    file: FleetFileOption = Path("fleet.yaml"),
) -> None:
    """Cancel a workload: at once if it waits, on its spoke if it runs."""
    with fleet(file).hub() as hub:
        w = hub.cancel(workload)
    done = "cancelled" if w.state == "Cancelled" else f"cancellation sent to {w.spoke}"
    output.success(f"{w.id}: {done}")


def logs(
    *,
    workload: Annotated[str, typer.Argument(help="The workload's id.")],
    file: FleetFileOption = Path("fleet.yaml"),
    attempt: Annotated[
        int | None, typer.Option(help="This attempt (generation); default the last.")
    ] = None,
    stderr: Annotated[
        bool, typer.Option("--stderr", help="The run's stderr instead of stdout.")
    ] = False,
    tail: Annotated[
        int | None,
        typer.Option(min=0, metavar="LINES", help="Only the last LINES lines, as kubectl logs."),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Then what the run writes, until it ends (work not started yet is waited "
            "for). Ctrl-C stops following; the run goes on.",
        ),
    ] = False,
) -> None:
    """Print a run's log, read from the spoke that ran it (logs never leave the spoke).

    On the embedded runtime a run's log is rotated past the spoke's cap (10Mi): this shows
    its newest rotated copy, then the log."""
    stream = "stderr" if stderr else "stdout"
    if follow:
        output.out.file.flush()
        fleet(file).follow_logs(
            workload, generation=attempt, stream=stream, tail=tail, hub_silent=output.warn
        )
        return
    text = fleet(file).logs(workload, generation=attempt, stream=stream, tail=tail)
    output.out.file.write(text)


def telemetry(
    *,
    workload: Annotated[str | None, typer.Argument(help="The workload's id; none: spokes.")] = None,
    file: FleetFileOption = Path("fleet.yaml"),
    spoke: Annotated[str | None, typer.Option(help="Only this spoke.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many points.")] = 50,
    fmt: OutputOption = output.Format.table,
) -> None:
    """Telemetry the spokes sent: resource use of runs, metrics the work emitted."""
    with fleet(file).hub() as hub:
        series = hub.telemetry(workload=workload, spoke=spoke, limit=limit)
    if fmt is not output.Format.table:
        output.emit([s.model_dump(mode="json") for s in series], fmt)
        return
    rows = [
        (
            s.spoke,
            p.workload or "(spoke)",
            p.at.strftime("%H:%M:%S"),
            " ".join(f"{k}={v:g}" for k, v in sorted(p.metrics.items())),
        )
        for s in series
        for p in s.points
    ]
    output.table(None, ["SPOKE", "WORKLOAD", "AT", "METRICS"], rows)
