"""kindfleet: declarative multi-cluster KIND fleets and a reference hub-spoke AI platform.

import kindfleet
fleet = kindfleet.load_fleet("examples/article.yaml")
configs = fleet.kind_configs()          # KIND v1alpha4 configs by cluster name

The names below are imported when first used, so that `import kindfleet` (and with it
every `kindfleet` command, and the image's health check) starts at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kindfleet._version import __version__

if TYPE_CHECKING:
    from kindfleet.errors import KindfleetError, SpecError
    from kindfleet.fleet import Fleet, load_fleet
    from kindfleet.render.kindconfig import render_cluster, render_fleet

_LAZY = {
    "Fleet": "kindfleet.fleet",
    "load_fleet": "kindfleet.fleet",
    "KindfleetError": "kindfleet.errors",
    "SpecError": "kindfleet.errors",
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
    if name not in _LAZY:
        raise AttributeError(f"module 'kindfleet' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
