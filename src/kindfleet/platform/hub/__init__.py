"""The hub: takes workloads, places them on spokes, leases them out, takes in status and
telemetry, and answers for all of it. `create_app(settings)` builds the ASGI app;
`python -m kindfleet.platform.hub` runs it as the process the runtimes start.

Three layers, each importing only the ones below it (import-linter holds them to it):

- `api`: the HTTP face. Routes authenticate, parse, make one call to the service, answer.
- `service`: every operation as one transaction over the store; effects after commit.
- `rules`: pure functions (placement, workload transitions, leases, delivery, views).
"""

from __future__ import annotations

from kindfleet.platform.hub.api.app import create_app
from kindfleet.platform.hub.rules.placement import Policy
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.scheduler import running
from kindfleet.platform.hub.settings import HubSettings, from_args

__all__ = ["HubService", "HubSettings", "Policy", "create_app", "from_args", "running"]
