"""`kindfleet matrix`: the fleet brought up at each Kubernetes version, a command run on
it, logs kept when it failed, the fleet removed; one result per version."""

from kindfleet.matrix.plan import MatrixPlan, VersionRun, label, parse_versions, plan
from kindfleet.matrix.results import MatrixResult, Step, VersionResult
from kindfleet.matrix.run import MatrixOptions, fit, load_plan, run, run_matrix, write_fleets

__all__ = [
    "MatrixOptions",
    "MatrixPlan",
    "MatrixResult",
    "Step",
    "VersionResult",
    "VersionRun",
    "fit",
    "label",
    "load_plan",
    "parse_versions",
    "plan",
    "run",
    "run_matrix",
    "write_fleets",
]
