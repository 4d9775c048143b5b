"""Fleet orchestration: `up`, `status` and `down` over any provider.

The order of work is data (a list of small steps over one context), the parallelism is
bounded and interruptible, and progress is a stream of events the caller renders; no
module here prints, exits or picks a kubeconfig file on its own.
"""

from kindfleet.lifecycle.down import DownOptions, DownResult, down
from kindfleet.lifecycle.events import Event, Reporter
from kindfleet.lifecycle.logs import LogsExport
from kindfleet.lifecycle.logs import export as export_logs
from kindfleet.lifecycle.results import ClusterOutcome, ClustersFailed, UpResult
from kindfleet.lifecycle.status import FleetStatus, status
from kindfleet.lifecycle.up import UpOptions, up
from kindfleet.lifecycle.up import selected as up_selected

__all__ = [
    "ClusterOutcome",
    "ClustersFailed",
    "DownOptions",
    "DownResult",
    "Event",
    "FleetStatus",
    "LogsExport",
    "Reporter",
    "UpOptions",
    "UpResult",
    "down",
    "export_logs",
    "status",
    "up",
    "up_selected",
]
