"""`kindfleet fault ACTION CLUSTER`, `fault list`, `fault clear`: break one cluster of the
fleet on purpose, see what is broken, undo it. Flags in, `Fleet` calls, lines out.

An unknown action is one line naming the actions, not click's usage dump: the group
resolves its commands itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from typer import _click
from typer.core import TyperGroup

from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption, OutputOption
from kindfleet.errors import UsageError
from kindfleet.faults import (
    MAX_HOLD,
    FaultRecord,
    format_duration,
    parse_duration,
    parse_percent,
)
from kindfleet.providers.base import FAULT_ACTIONS

WHAT = {
    "stop": "Stop the cluster's nodes (on the local runtime, its process); clearing starts "
    "them again and waits until the cluster is Ready.",
    "pause": "Freeze the cluster: nothing in it runs until the fault is cleared.",
    "kill": "Kill the platform's agent (the orchestrator; on the hub, the hub itself) with no "
    "grace, and keep it down until the fault is cleared.",
    "partition": "Cut the spoke off from the hub (packets dropped, connections hang); its "
    "API and the rest keep working. On the hub: every spoke cut off.",
    "slow": "Latency and loss between the spoke (on the hub: every spoke) and the hub.",
}


class FaultGroup(TyperGroup):
    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        name = args[0] if args else None
        if name is not None and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise UsageError(
                f"{name!r} is not a fault action",
                hint=f"use one of {', '.join(FAULT_ACTIONS)}, or `fault list` / `fault clear`",
            )
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=FaultGroup,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Inject a fault into one cluster (or the hub), list faults, clear them.\n\n"
    "`kindfleet fault partition spoke-1 --for 60s` cuts spoke-1 off from the hub for a "
    "minute; without --for it stays until `kindfleet fault clear`. `kindfleet down` "
    "clears every fault first.",
)

ForOption = Annotated[
    str | None,
    typer.Option(
        "--for",
        metavar="DURATION",
        help="Hold the fault this long (60s, 2m, 1h; at most 168h), then clear it; Ctrl-C "
        "clears it at once. Without it the fault stays until `kindfleet fault clear`.",
        show_default=False,
    ),
]
KubeconfigOption = Annotated[
    Path | None,
    typer.Option(
        "--kubeconfig",
        help="Kubeconfig with the clusters' contexts.",
        show_default=False,
        parser=options.path_of("--kubeconfig"),
    ),
]


def _when(at: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) if at else ""


def _inject(
    action: str,
    cluster: str,
    *,
    file: Path,
    hold: str | None,
    kubeconfig: Path | None,
    fmt: output.Format,
    **extra: Any,
) -> None:
    duration = parse_duration(hold, most=MAX_HOLD) if hold is not None else None
    fleet = options.fleet(file)
    record = fleet.fault(action, cluster, duration=duration, kubeconfig=kubeconfig, **extra)
    if fmt is not output.Format.table:
        output.emit(record.to_dict(), fmt)
    output.success(f"{record.spec.describe()} on {record.cluster} ({record.id})")
    if duration is None:
        output.info(f"  clear it with `kindfleet fault clear {record.id} -f {file}`")
        return
    output.info(f"  holding it for {format_duration(duration)}; Ctrl-C clears it now")
    started = time.monotonic()
    try:
        cleared = fleet.hold_fault(record, kubeconfig=kubeconfig)
    except KeyboardInterrupt:
        output.success(f"{record.id} cleared early (interrupted)")
        raise typer.Exit(130) from None
    took = format_duration(time.monotonic() - started)
    if cleared is None:
        output.info(f"{record.id} was cleared by another command after {took}")
    else:
        output.success(f"{record.id} cleared after {took}")


def _action(action: str) -> None:
    def command(
        cluster: Annotated[str, typer.Argument(help="A cluster of the fleet, or `hub`.")],
        file: FleetFileOption = Path("fleet.yaml"),
        hold: ForOption = None,
        kubeconfig: KubeconfigOption = None,
        fmt: OutputOption = output.Format.table,
    ) -> None:
        _inject(action, cluster, file=file, hold=hold, kubeconfig=kubeconfig, fmt=fmt)

    command.__doc__ = WHAT[action]
    app.command(action)(command)


for _name in ("stop", "pause", "kill", "partition"):
    _action(_name)


@app.command("slow")
def slow(
    cluster: Annotated[str, typer.Argument(help="A spoke, or `hub` for every spoke's link.")],
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    hold: ForOption = None,
    latency: Annotated[
        str, typer.Option("--latency", help="Added each way, e.g. 200ms or 1s.")
    ] = "200ms",
    loss: Annotated[str, typer.Option("--loss", help="Share of packets lost, e.g. 5%.")] = "0%",
    kubeconfig: KubeconfigOption = None,
    fmt: OutputOption = output.Format.table,
) -> None:
    """Latency and loss between the spoke (on the hub: every spoke) and the hub."""
    # At most an hour each way: 99999999999999h was taken (a partition in all but name).
    latency_ms = round(parse_duration(latency, what="--latency", most=3600.0) * 1000)
    loss_percent = parse_percent(loss)
    _inject(
        "slow",
        cluster,
        file=file,
        hold=hold,
        kubeconfig=kubeconfig,
        fmt=fmt,
        latency_ms=latency_ms,
        loss_percent=loss_percent,
    )


@app.command("list")
def list_faults(
    file: FleetFileOption = Path("fleet.yaml"),
    live: Annotated[bool, typer.Option("--live", help="Only faults not cleared.")] = False,
    fmt: OutputOption = output.Format.table,
) -> None:
    """Every fault of the fleet: what, where, since when, held until, cleared when."""
    records = options.fleet(file).faults(live=live)
    if fmt is not output.Format.table:
        output.emit([r.to_dict() for r in records], fmt)
        return
    if not records:
        output.info("no faults recorded" if not live else "no live faults")
        return
    output.table(
        None,
        ["ID", "ACTION", "CLUSTER", "STATE", "SINCE", "UNTIL", "CLEARED", "NOTE"],
        [_row(r) for r in records],
    )


def _row(record: FaultRecord) -> list[str]:
    return [
        record.id,
        record.spec.describe(),
        record.cluster,
        record.state,
        _when(record.injected_at),
        _when(record.until),
        _when(record.cleared_at),
        record.error or record.note(),
    ]


@app.command("clear")
def clear(
    ids: Annotated[list[str] | None, typer.Argument(help="Fault IDs (see `fault list`).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Clear every live fault.")] = False,
    file: FleetFileOption = Path("fleet.yaml"),
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Undo faults: those named, or every live one with --all."""
    if not ids and not every:
        raise UsageError("name the faults to clear, or pass --all", hint="`kindfleet fault list`")
    if ids and every:
        raise UsageError("name faults or pass --all, not both")
    cleared = options.fleet(file).clear_faults(None if every else ids, kubeconfig=kubeconfig)
    if not cleared:
        output.info("nothing to clear: no live faults" if every else "already cleared")
    for record in cleared:
        output.success(f"cleared {record.id}: {record.spec.describe()} on {record.cluster}")
