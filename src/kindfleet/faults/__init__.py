"""Faults injected into one cluster of a fleet (or its hub), recorded so that any later
command can list and undo them: `kindfleet fault`, `fault list`, `fault clear`, `down`.

What a fault does is the provider's (`providers.base.InjectsFaults`); this package only
decides whether it may be done, keeps the record and undoes it. One live fault per
thing: a fault changes a cluster's nodes (stop, pause, kill) or spokes' links to the hub
(partition, slow), and two live faults may not change the same one (undoing one would
undo part of the other); a second `kindfleet fault` racing the first on the same thing
is refused, not stacked.
"""

from kindfleet.faults.durations import MAX_HOLD, format_duration, parse_duration, parse_percent
from kindfleet.faults.records import ACTIVE, CLEARED, INJECTING, FaultBook, FaultRecord, Holder
from kindfleet.faults.report import report
from kindfleet.faults.run import (
    FaultRefused,
    SeesUndone,
    clear,
    clear_for_down,
    hold,
    inject,
    refusal,
    settle,
    target,
)

__all__ = [
    "ACTIVE",
    "CLEARED",
    "INJECTING",
    "MAX_HOLD",
    "FaultBook",
    "FaultRecord",
    "FaultRefused",
    "Holder",
    "SeesUndone",
    "clear",
    "clear_for_down",
    "format_duration",
    "hold",
    "inject",
    "parse_duration",
    "parse_percent",
    "refusal",
    "report",
    "settle",
    "target",
]
