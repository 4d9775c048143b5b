"""Options shared by many commands, declared once so they read the same everywhere."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kindfleet.cli.output import Format

if TYPE_CHECKING:
    from kindfleet.fleet import Fleet
    from kindfleet.fleetspec import FleetSpec

FleetFileOption = Annotated[
    Path,
    typer.Option(
        "--file",
        "-f",
        envvar="KINDFLEET_FILE",
        help="The fleet file (default ./fleet.yaml, or $KINDFLEET_FILE).",
    ),
]
OutputOption = Annotated[
    Format, typer.Option("--output", "-o", help="table for people; json or yaml for scripts.")
]


# `kindfleet --provider NAME` (or $KINDFLEET_PROVIDER), set by the root callback of each
# invocation and read only by `fleet()` and `spec()` below.
provider_override: ContextVar[str | None] = ContextVar("provider_override", default=None)


def fleet(file: Path) -> Fleet:
    """The fleet of `file`, with the provider chosen by `kindfleet --provider`, if any:
    decided once, here, and passed to the Python API."""
    from kindfleet.fleet import Fleet

    return Fleet.from_path(file, provider=provider_override.get())


def spec(file: Path) -> FleetSpec:
    """The fleet file alone, read and resolved as `fleet()` would: for the commands that
    need no provider, cluster or hub (validate, ci), so they start without importing them."""
    from kindfleet import fleetspec

    return fleetspec.from_path(file, provider=provider_override.get())
