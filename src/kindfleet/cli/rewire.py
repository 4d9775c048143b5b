"""`kindfleet rewire`: the spokes pointed at the hub where it is now (after a Docker
restart gave its node another address; `status` says when)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption
from kindfleet.cli.progress import progress
from kindfleet.errors import EXIT_INTERRUPTED


def rewire(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Wait for the orchestrators, then the spokes."),
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each.")] = 300.0,
    parallel: Annotated[
        int, typer.Option("--parallel", "-p", min=1, help="Spokes worked on at the same time.")
    ] = 4,
) -> None:
    """Point every spoke at the hub where it is now: the orchestrators' `--hub` and their
    egress NetworkPolicy, with the image deploy recorded. Nothing is built, pushed or
    loaded, and the hub is left as it is. `kindfleet status` says when it is needed.
    """
    fleet = options.fleet(file)
    try:
        with progress([c.name for c in fleet.spec.spokes]) as report:
            result = fleet.rewire(
                wait=wait, wait_seconds=timeout, parallel=parallel, progress=report
            )
    except KeyboardInterrupt:
        output.error("interrupted", f"`kindfleet rewire -f {file}` again finishes the job")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    output.success(
        f"spokes of fleet {fleet.name} rewired in {result.seconds:.1f}s: they dial {result.hub_url}"
    )
    if result.spokes_ready:
        output.info(f"  spokes Ready in the hub: {', '.join(sorted(result.spokes_ready))}")
