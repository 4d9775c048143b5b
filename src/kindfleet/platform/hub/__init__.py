"""The hub: takes workloads, places them on spokes, leases them out, takes in status and
telemetry, and answers for all of it. `create_app(settings)` builds the ASGI app;
`python -m kindfleet.platform.hub` runs it as the process the runtimes start."""

from __future__ import annotations

from kindfleet.platform.hub.app import create_app, running
from kindfleet.platform.hub.placement import Policy
from kindfleet.platform.hub.service import HubService
from kindfleet.platform.hub.settings import HubSettings, from_args

__all__ = ["HubService", "HubSettings", "Policy", "create_app", "from_args", "running"]
