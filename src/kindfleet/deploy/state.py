"""What `kindfleet deploy` leaves behind for later commands: how to reach the hub from
this machine and with which client token (kept 0600 in the fleet's state directory)."""

from __future__ import annotations

import json
from pathlib import Path

from kindfleet.errors import UsageError
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.statedir import ensure_token, fleet_dir, write_private


def _access_file(spec: FleetSpec, root: Path | None = None) -> Path:
    return fleet_dir(spec.name, root) / "access.json"


def tokens(spec: FleetSpec, root: Path | None = None) -> tuple[str, str]:
    """(client token, bootstrap token) of the fleet's platform, created on first use."""
    base = fleet_dir(spec.name, root) / "tokens"
    return ensure_token(base / "client.token"), ensure_token(base / "bootstrap.token")


def save_access(spec: FleetSpec, url: str, root: Path | None = None) -> None:
    write_private(_access_file(spec, root), json.dumps({"hub": url}))


def load_access(spec: FleetSpec, root: Path | None = None) -> tuple[str, str]:
    try:
        url = json.loads(_access_file(spec, root).read_text())["hub"]
    except (OSError, ValueError, KeyError):
        raise UsageError(
            f"the platform of fleet {spec.name!r} has not been deployed from this machine",
            hint=f"run `kindfleet deploy -f {spec.source or 'FILE'}`",
        ) from None
    return str(url), tokens(spec, root)[0]
