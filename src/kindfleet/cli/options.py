"""Options shared by many commands, declared once so they read the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kindfleet.cli.output import Format

if TYPE_CHECKING:
    from kindfleet.fleet import Fleet
    from kindfleet.fleetspec import FleetSpec


def path_of(option: str) -> Callable[[str | Path], Path]:
    """A path option's parser: an empty value is refused, not read as the current directory
    (`--out "$DIR"` with DIR unset wrote into the working directory; `-f ''` was "." in
    the error)."""
    from kindfleet.errors import UsageError

    def path(value: str | Path) -> Path:  # its name is the help's metavar: <path>
        if isinstance(value, Path):  # the default, converted too
            return value
        if not value.strip():
            raise UsageError(
                f"{option} {value!r} is not a path",
                hint="give a path (an empty one is most often a shell variable not set)",
            )
        return Path(value)

    return path


def positive_of(option: str, unit: str = "seconds") -> Callable[[str | float], float]:
    """A number option's parser: more than 0 and finite. `--wait nan` (or -1, or 0) was
    taken, every cluster started and then removed as "not ready within nans"."""
    import math

    from kindfleet.errors import UsageError

    def number(value: str | float) -> float:  # its name is the help's metavar: <number>
        if isinstance(value, int | float):  # the default, converted too
            return float(value)
        try:
            found = float(value)
        except ValueError:
            found = math.nan
        if not 0 < found < math.inf:
            raise UsageError(
                f"{option} {value!r} is not a number of {unit} more than 0",
                hint=f"e.g. {option} 300" if unit == "seconds" else f"e.g. {option} 50",
            )
        return found

    return number


def image_of(option: str) -> Callable[[str], str]:
    """An image reference option's parser: what a cluster would take (`[host[:port]/]path`
    in lower case, then `:tag` and or `@digest`). `--image 'UPPER CASE::'` was written
    into every Deployment, each pod then failing with InvalidImageName."""
    import re

    from kindfleet.errors import UsageError
    from kindfleet.platform.wire import IMAGE

    def image(value: str) -> str:  # its name is the help's metavar
        if not (0 < len(value) <= 512 and re.fullmatch(IMAGE, value)):
            raise UsageError(
                f"{option} {value[:100]!r} is not an image reference",
                hint=f"e.g. {option} localhost:5001/kindfleet/platform:0.1 (lower-case "
                "repository path, then :TAG or @sha256:DIGEST)",
            )
        return value

    return image


FleetFileOption = Annotated[
    Path,
    typer.Option(
        "--file",
        "-f",
        envvar="KINDFLEET_FILE",
        help="The fleet file (default ./fleet.yaml, or $KINDFLEET_FILE).",
        parser=path_of("--file"),
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
