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


def record(name: str, path: Path, provider: str | None, root: Path | None = None) -> None:
    """Keep the file of `path` for the fleet `name` (0600: it may name secrets' paths)."""
    data = path.read_bytes()
    kept = {
        "path": str(path.resolve()),
        "provider": provider,
        "data": base64.b64encode(data).decode(),
    }
    write_private(fleet_dir(name, root) / RECORD, json.dumps(kept))


def recorded(name: str, root: Path | None = None) -> Recorded | None:
    """What was kept for the fleet `name`, if anything (a record that cannot be read
    counts as none)."""
    try:
        kept = json.loads((fleet_dir(name, root) / RECORD).read_text())
        return Recorded(
            name,
            Path(kept["path"]),
            kept.get("provider"),
            base64.b64decode(kept["data"], validate=True),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget(name: str, root: Path | None = None) -> None:
    with contextlib.suppress(FileNotFoundError):
        (fleet_dir(name, root) / RECORD).unlink()


def names(root: Path | None = None) -> list[str]:
    """The fleets with a kept file under the state root, by name."""
    base = root or state_root()
    try:
        return sorted(d.name for d in base.iterdir() if (d / RECORD).is_file())
    except OSError:
        return []
