"""The HTTP API of the hub: routes, bodies, error documents, the published OpenAPI."""

from __future__ import annotations

from kindfleet.platform.hub.api.app import create_app

__all__ = ["create_app"]
