"""Reading a fleet file: YAML, then apiVersion first (as KIND's own loader does), then the
strict model, then the fleet-wide resolution. Every way a file can be wrong ends in one
`SpecError` listing all of its problems; nothing else escapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kindfleet.errors import Problem, SpecError, UsageError
from kindfleet.fleetspec.errors import problems_from
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.fleetspec.model import API_VERSION, FleetFile
from kindfleet.fleetspec.providers import checked
from kindfleet.fleetspec.resolve import resolve


def _parse_yaml(text: str, source: str) -> Any:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([Problem(where, f"is not valid YAML: {problem}")], source=source) from None
    if len(docs) != 1:
        raise SpecError(
            [Problem("", f"holds {len(docs)} YAML documents; a fleet file holds exactly one")],
            source=source,
        )
    return docs[0]


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


def from_data(data: Any, *, source: str = "<fleet>", provider: str | None = None) -> FleetSpec:
    """`provider`: run the fleet with this provider instead of the file's own (its
    defaults, such as context names, follow the provider chosen)."""
    _check_header(data, source)
    try:
        doc = FleetFile.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems_from(exc, FleetFile), source=source) from None
    override = checked(provider)
    if override is not None:
        doc = doc.model_copy(update={"provider": override})
    return resolve(doc, source=source)


def from_text(text: str, *, source: str = "<fleet>", provider: str | None = None) -> FleetSpec:
    return from_data(_parse_yaml(text, source), source=source, provider=provider)


def from_path(path: str | Path, *, provider: str | None = None) -> FleetSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"fleet file {path} does not exist",
            hint="create one with `kindfleet init`, or point -f at yours",
        ) from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a fleet file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem("", f"cannot be read: {exc}")], source=str(path)) from None
    return from_text(text, source=str(path), provider=provider)
