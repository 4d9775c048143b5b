"""Options shared by many commands, declared once so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kindfleet.cli.output import Format

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
