"""The hub's service: every operation as one transaction over the store, effects after commit.

Between the HTTP API (`hub.api`, which parses and answers) and the pure rules (`hub.rules`,
which decide): this layer loads records, asks the rules, writes what they return, and only
then wakes spokes, logs and counts.
"""

from __future__ import annotations

from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.scheduler import running

__all__ = ["HubService", "running"]
