"""What `kindfleet deploy` leaves behind for later commands: how to reach the hub from
this machine and with which client token (kept 0600 in the fleet's state directory), and
what the spokes were told (the hub node's address, the image), so that `status` can see
the hub move (a Docker restart gives containers new addresses) and `rewire` can put the
spokes right without building or pushing anything."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kindfleet.errors import UsageError
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.statedir import ensure_token, fleet_dir, write_private


def _access_file(spec: FleetSpec, root: Path | None = None) -> Path:
    return fleet_dir(spec.name, root) / "access.json"


def client_token(spec: FleetSpec, root: Path | None = None) -> str:
    """The fleet platform's client token, created on first use. Spokes get no fleet-wide
    token: deploy mints each one a join token of its own through the hub (`joining`)."""
    return ensure_token(fleet_dir(spec.name, root) / "tokens" / "client.token")


@dataclass(frozen=True)
class Deployed:
    hub: str  # how this machine reaches the hub
    hub_node: str | None = None  # the hub node the spokes dial (None: a --hub-url)
    hub_host: str | None = None  # its address, as the spokes' args and NetworkPolicy hold it
    image: str | None = None  # what the pods run, as deploy named it
    image_pull_policy: str | None = None
    image_id: str | None = None


def save_access(spec: FleetSpec, url: str, root: Path | None = None) -> None:
    save_deployed(spec, Deployed(url), root)


def save_deployed(spec: FleetSpec, deployed: Deployed, root: Path | None = None) -> None:
    write_private(_access_file(spec, root), json.dumps(asdict(deployed)))


def load_deployed(spec: FleetSpec, root: Path | None = None) -> Deployed | None:
    """What the last deploy from this machine told the spokes; None when there was none."""
    try:
        data = json.loads(_access_file(spec, root).read_text())
        return Deployed(**{k: v for k, v in data.items() if k in Deployed.__dataclass_fields__})
    except (OSError, ValueError, TypeError, RecursionError):
        return None


def load_access(spec: FleetSpec, root: Path | None = None) -> tuple[str, str]:
    try:
        url = json.loads(_access_file(spec, root).read_text())["hub"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        raise UsageError(
            f"the platform of fleet {spec.name!r} has not been deployed from this machine",
            hint=f"run `kindfleet deploy -f {spec.source or 'FILE'}`",
        ) from None
    return str(url), client_token(spec, root)
