"""Where a run's files live in the agent's state directory: `runs/<workload>-g<generation>`.

One definition for the agent that writes there and for `spokectl`, which reads logs from
there for the fleet's tools; standard library only, so `spokectl` starts quickly.
"""

from __future__ import annotations

RUNS = "runs"


def run_key(workload: str, generation: int) -> str:
    """`<workload>-g<generation>`, safe as a file name whatever the hub's ids look like."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in workload).lstrip(".")
    return f"{safe or '_'}-g{generation}"
