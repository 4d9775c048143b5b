"""`kindfleet spokes`: the operator's commands over the fleet's spokes.

List them (health, approval, drain, and the disruption guard), mint a spoke's join token,
approve a spoke that joined with the fleet token, drain one, remove one. Each command is
flags, one call to the hub's Python client, and printing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from kindfleet.cli import output
from kindfleet.cli.options import FleetFileOption, OutputOption, fleet
from kindfleet.errors import UsageError
from kindfleet.platform.wire import MAX_JOIN_TTL, Spoke, SpokeList

app = typer.Typer(
    name="spokes",
    help=(
        "The fleet's spokes as the hub sees them, and what an operator does with them.\n\n"
        "`kindfleet spokes` lists them. A spoke joins with a **join token** minted for its "
        "name (`kindfleet spokes token NAME`: single use, expires in 1 h by default); a live "
        "spoke cannot be taken over by another agent. `drain` stops new work going to a "
        "spoke while what it runs finishes; `remove` revokes its credential and places its "
        "unstarted work elsewhere. With the development-only fleet token, a new spoke gets "
        "no work until `kindfleet spokes approve NAME`."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode="markdown",
)

SpokeName = Annotated[str, typer.Argument(help="The spoke's name, as in the fleet file.")]
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> float:
    """Seconds in `90`, `90s`, `30m`, `2h` or `1d`."""
    match = _DURATION.fullmatch(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"--ttl {text!r} is not a duration", hint="e.g. --ttl 30m, 2h or 3600")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_JOIN_TTL:  # was pydantic's ValidationError, reported as a bug
        raise UsageError(
            f"--ttl {text!r} is longer than a join token may live (7d)",
            hint="e.g. --ttl 7d at most; mint another token when it has expired",
        )
    return seconds


@app.callback()
def spokes(
    ctx: typer.Context,
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    fmt: OutputOption = output.Format.table,
) -> None:
    """List the spokes: health, capacity in use, approval and drain; and whether the
    disruption guard is on, and why."""
    if ctx.invoked_subcommand is not None:
        return
    with fleet(file).hub() as hub:
        listed = hub.spoke_list()
    if fmt is not output.Format.table:
        output.emit(listed.model_dump(mode="json"), fmt)
        return
    _table(listed)


def _table(listed: SpokeList) -> None:
    output.table(
        None,
        ["NAME", "HEALTH", "STATUS", "CPU", "MEMORY", "GPUS", "RUNNING", "LABELS"],
        [
            (
                s.name,
                s.health,
                _status(s),
                f"{s.allocated.cpu_millis}m/{s.capacity.cpu_millis}m",
                f"{s.allocated.memory_bytes // 2**20}Mi/{s.capacity.memory_bytes // 2**20}Mi",
                f"{s.allocated.gpus}/{s.capacity.gpus}",
                s.running,
                output.labels(s.labels),
            )
            for s in listed.items
        ],
    )
    guard = listed.guard
    if guard is not None and guard.active:
        output.warn(f"disruption guard on: {guard.reason}")


def _status(spoke: Spoke) -> str:
    notes = []
    if not spoke.approved:
        notes.append("awaiting approval")
    if spoke.draining:
        notes.append("draining")
    return ", ".join(notes) or "ok"


@app.command()
def token(
    *,
    name: SpokeName,
    file: FleetFileOption = Path("fleet.yaml"),
    ttl: Annotated[
        str | None,
        typer.Option(help="How long it stays valid: 30m, 2h, 3600 (default: the hub's, 1 h)."),
    ] = None,
) -> None:
    """Mint a join token for spoke NAME and print it (to stdout, and only there).

    It registers that name only, once, before it expires. Give it to the spoke's agent as
    its token file: `python -m kindfleet.platform.agent --name NAME
    --bootstrap-token-file FILE ...`. A spoke whose agent is alive cannot be taken over
    with it; once its lease has run out, it brings the spoke back.
    """
    seconds = duration(ttl) if ttl is not None else None
    with fleet(file).hub() as hub:
        minted = hub.join_token(name, ttl_seconds=seconds)
    output.out.file.write(minted.token + "\n")
    output.info(f"join token for spoke {minted.spoke}, single use, valid until {minted.expires_at}")


@app.command()
def approve(*, name: SpokeName, file: FleetFileOption = Path("fleet.yaml")) -> None:
    """Let spoke NAME, which joined with the development-only fleet token, receive work."""
    with fleet(file).hub() as hub:
        spoke = hub.approve(name)
    output.success(f"spoke {spoke.name} approved: it may receive work")


@app.command()
def drain(
    *,
    name: SpokeName,
    file: FleetFileOption = Path("fleet.yaml"),
    undo: Annotated[bool, typer.Option("--undo", help="Let it take new work again.")] = False,
) -> None:
    """Stop placing new work on spoke NAME; what it runs finishes. `--undo` ends the drain."""
    with fleet(file).hub() as hub:
        spoke = hub.undrain(name) if undo else hub.drain(name)
    if undo:
        output.success(f"spoke {spoke.name} takes new work again")
    else:
        output.success(f"spoke {spoke.name} draining: {spoke.running} workload(s) still on it")


@app.command()
def remove(
    *,
    name: SpokeName,
    file: FleetFileOption = Path("fleet.yaml"),
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Remove a spoke that may still run work it was handed (its agent may go "
            "on running it while the hub places it elsewhere): when it is known to be stopped.",
        ),
    ] = False,
) -> None:
    """Remove spoke NAME: its credential is revoked, its unstarted work placed elsewhere,
    its running work retried per each workload's policy. It leaves every health count.

    A spoke that may still run work it was handed (live, or silent and not yet Lost, or
    Lost with exclusive work whose lease has not passed) is refused unless --force: drain
    it first, or stop its agent, or let the hub move the work of a silent one. To bring
    it back later, mint it a new join token.
    """
    with fleet(file).hub() as hub:
        removal = hub.remove(name, force=force)
    output.success(
        f"spoke {removal.spoke} removed: {len(removal.requeued)} unstarted re-queued, "
        f"{len(removal.retried)} retried, {len(removal.failed)} failed, "
        f"{len(removal.cancelled)} cancelled"
    )
