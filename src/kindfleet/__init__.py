"""kindfleet: declarative multi-cluster KIND fleets and a reference hub-spoke AI platform.

import kindfleet
fleet = kindfleet.load_fleet("examples/article.yaml")
configs = fleet.kind_configs()          # KIND v1alpha4 configs by cluster name

The fleet facade is imported on first use, not with the package: the platform's own
programs (the spoke agent, its launcher, `spokectl`) live under `kindfleet.platform` and
must not pay for the fleet tooling (about 0.8 s and 30 MB) each time they start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kindfleet._version import __version__
from kindfleet.errors import KindfleetError, SpecError

if TYPE_CHECKING:
    from kindfleet.fleet import Fleet, load_fleet
    from kindfleet.render.kindconfig import render_cluster, render_fleet

_LAZY = {
    "Fleet": "kindfleet.fleet",
    "load_fleet": "kindfleet.fleet",
    "render_cluster": "kindfleet.render.kindconfig",
    "render_fleet": "kindfleet.render.kindconfig",
}

__all__ = [
    "Fleet",
    "KindfleetError",
    "SpecError",
    "__version__",
    "load_fleet",
    "render_cluster",
    "render_fleet",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kindfleet' has no attribute {name!r}")
