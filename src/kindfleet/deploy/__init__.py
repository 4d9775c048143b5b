"""Deploying the hub-spoke platform onto a fleet's clusters: `kindfleet deploy` and
`kindfleet manifests`.

It sits between the fleet facade and the cluster orchestration: it needs clusters that
`up` made (or that exist, for provider existing), and it drives them only through the
provider protocol, the one process runner and kubectl, reporting progress with the same
events as `up`. Nothing here prints or reads flags.
"""

from kindfleet.deploy.drift import hub_moved
from kindfleet.deploy.offline import offline_manifests, redact_all
from kindfleet.deploy.options import DeployOptions, DeployResult
from kindfleet.deploy.rewire import rewire
from kindfleet.deploy.run import DeployPartialFailure, deploy
from kindfleet.deploy.yamlout import stream as manifests_stream
from kindfleet.deploy.yamlout import write_kustomizations

__all__ = [
    "DeployOptions",
    "DeployPartialFailure",
    "DeployResult",
    "deploy",
    "hub_moved",
    "manifests_stream",
    "offline_manifests",
    "redact_all",
    "rewire",
    "write_kustomizations",
]
