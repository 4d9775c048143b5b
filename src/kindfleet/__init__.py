"""kindfleet: declarative multi-cluster KIND fleets and a reference hub-spoke AI platform.

import kindfleet
fleet = kindfleet.load_fleet("examples/article.yaml")
configs = fleet.kind_configs()          # KIND v1alpha4 configs by cluster name
"""

from kindfleet._version import __version__
from kindfleet.errors import KindfleetError, SpecError
from kindfleet.fleet import Fleet, load_fleet
from kindfleet.render.kindconfig import render_cluster, render_fleet

__all__ = [
    "Fleet",
    "KindfleetError",
    "SpecError",
    "__version__",
    "load_fleet",
    "render_cluster",
    "render_fleet",
]
