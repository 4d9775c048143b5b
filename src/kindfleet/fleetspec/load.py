"""Reading a fleet file: YAML (`yamlread`), then apiVersion first (as KIND's own loader
does), then the strict model, then the fleet-wide resolution. Every way a file can be
wrong ends in one `SpecError` listing all of its problems; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kindfleet.errors import Problem, SpecError, UsageError
from kindfleet.fleetspec import yamlread
from kindfleet.fleetspec.errors import capped, problems_from
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.fleetspec.model import API_VERSION, FleetFile
from kindfleet.fleetspec.providers import checked
from kindfleet.fleetspec.resolve import resolve
from kindfleet.fleetspec.yamlread import DataPath

MAX_FILE_BYTES = 16 * 2**20


def read_capped(path: Path) -> bytes | None:
    """The file's bytes, or None when it holds more than MAX_FILE_BYTES: no further is
    read (/dev/zero is a "file" too). Raises the OSError of opening or reading it."""
    with path.open("rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    return None if len(raw) > MAX_FILE_BYTES else raw


def _check_header(data: Any, source: str) -> None:
    if not isinstance(data, dict):
        raise SpecError(
            [
                Problem(
                    "",
                    "must be a map with apiVersion, kind and name",
                    "run `kindfleet init` for an example",
                )
            ],
            source=source,
        )
    version = data.get("apiVersion")
    if version is None:
        raise SpecError(
            [Problem("apiVersion", "is missing", f"add `apiVersion: {API_VERSION}` at the top")],
            source=source,
        )
    if version != API_VERSION:
        raise SpecError(
            [
                Problem(
                    "apiVersion",
                    f"{version!r} is not a fleet file version this kindfleet reads",
                    f"use {API_VERSION}",
                )
            ],
            source=source,
        )


def from_data(
    data: Any,
    *,
    source: str = "<fleet>",
    texts: Mapping[DataPath, str] | None = None,
    base_dir: Path | None = None,
    provider: str | None = None,
) -> FleetSpec:
    """A fleet from plain data (what the YAML holds). `texts`: the literal text of plain
    scalars by path, for messages; `base_dir`: where relative host paths are read from
    (the current directory when not given); `provider`: run the fleet with this provider
    instead of the file's own (its defaults, such as context names, follow it)."""
    _check_header(data, source)
    try:
        doc = FleetFile.model_validate(data)
    except ValidationError as exc:
        raise SpecError(capped(problems_from(exc, FleetFile, texts=texts)), source=source) from None
    override = checked(provider)
    if override is not None:
        doc = doc.model_copy(update={"provider": override})
    return resolve(doc, source=source, base_dir=base_dir, texts=texts)


def from_text(
    text: str | bytes,
    *,
    source: str = "<fleet>",
    base_dir: Path | None = None,
    provider: str | None = None,
) -> FleetSpec:
    document = yamlread.read(text, source=source)
    return from_data(
        document.data, source=source, texts=document.texts, base_dir=base_dir, provider=provider
    )


def from_path(path: str | Path, *, provider: str | None = None) -> FleetSpec:
    """A fleet file; relative host paths in it are read from the file's own directory."""
    return read_path(path, provider=provider)[0]


def read_path(path: str | Path, *, provider: str | None = None) -> tuple[FleetSpec, bytes]:
    """`from_path`, with the bytes it read (what `up` keeps of the file)."""
    path = Path(path)
    data = read_fleet_file(path)
    spec = from_text(data, source=str(path), base_dir=path.resolve().parent, provider=provider)
    return spec, data


def read_fleet_file(path: Path) -> bytes:
    """The bytes of the fleet file at `path`, read once (a pipe, `-f <(...)`, cannot be
    read twice); a one-line error naming what is wrong with the path."""
    try:
        raw = read_capped(path)
    except FileNotFoundError:
        raise UsageError(
            f"fleet file {path} does not exist",
            hint="create one with `kindfleet init`, or point -f at yours",
        ) from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a fleet file") from None
    except OSError as exc:
        raise SpecError([Problem("", f"cannot be read: {exc}")], source=str(path)) from None
    if raw is None:
        raise SpecError(
            [
                Problem(
                    "",
                    f"is larger than {MAX_FILE_BYTES // 2**20} MiB: a fleet of 100 spokes "
                    "with every option fits in a few hundred KiB",
                    "check that -f names your fleet file",
                )
            ],
            source=str(path),
        )
    return raw
