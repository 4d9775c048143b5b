"""The fleet file a fleet was brought up from, kept in the fleet's state directory at `up`.

A running fleet whose file was then moved, deleted or edited into something invalid could
not be taken down: every command reads the file first, and `down` has nothing else to go
by. `kind delete cluster --name NAME` needs no config; `kindfleet down --name NAME` takes
the fleet down from the file as it was when the fleet came up (its bytes, where it was,
and the provider it ran with).
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from kindfleet.statedir import fleet_dir, state_root, write_private

RECORD = "fleetfile.json"


@dataclass(frozen=True)
class Recorded:
    name: str
    path: Path  # where the file was
    provider: str | None  # `kindfleet --provider`, when it was given
    data: bytes  # the file as it was read


def record(
    name: str, path: Path, provider: str | None, data: bytes, root: Path | None = None
) -> None:
    """Keep `data`, the fleet file read from `path`, for the fleet `name` (0600: it may
    name secrets' paths)."""
    kept = {
        "path": str(path.resolve()),
        "provider": provider,
        "data": base64.b64encode(data).decode(),
    }
    write_private(fleet_dir(name, root) / RECORD, json.dumps(kept))


class Unreadable(Exception):
    """A record is there and cannot be read (edited, cut short): what is wrong."""


def where(name: str, root: Path | None = None) -> Path:
    return fleet_dir(name, root) / RECORD


def recorded(name: str, root: Path | None = None) -> Recorded | None:
    """What was kept for the fleet `name`; None when nothing was. Raises `Unreadable`."""
    try:
        text = where(name, root).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise Unreadable(str(exc)) from None
    try:
        kept = json.loads(text)
        path, provider, data = kept["path"], kept.get("provider"), kept["data"]
        if not (isinstance(path, str) and isinstance(data, str)):
            raise TypeError("path and data must be text")
        if provider is not None and not isinstance(provider, str):
            raise TypeError("provider must be text")
        return Recorded(name, Path(path), provider, base64.b64decode(data, validate=True))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise Unreadable(f"not the record kindfleet writes ({exc})") from None


def forget(name: str, root: Path | None = None) -> None:
    with contextlib.suppress(FileNotFoundError):
        where(name, root).unlink()


def names(root: Path | None = None) -> list[str]:
    """The fleets with a kept file under the state root, by name."""
    base = root or state_root()
    try:
        return sorted(d.name for d in base.iterdir() if (d / RECORD).is_file())
    except OSError:
        return []
