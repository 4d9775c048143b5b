"""Cleaning up after an agent that was killed and will not be restarted (`kindfleet down`
after a kill -9): PDEATHSIG has already killed each run's first process, but what those
spawned may still be running in the run's process group. This reads the state directory
the agent left and kills exactly those groups, checking start times so that a reused pid is
never touched. A restarting agent does the same through its executor's `recover`.
"""

from __future__ import annotations

from pathlib import Path

from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.executors.process.proctree import kill_leftovers
from kindfleet.platform.agent.lock import StateLock
from kindfleet.platform.agent.state import Holdings, Phase


def kill_orphans(state_dir: Path) -> list[int]:
    """Kill what is left of the process runs recorded in `state_dir`; the pids killed.

    Does nothing while an agent runs with that directory (its runs are its own business).
    """
    path = state_dir / "agent.db"
    lock = StateLock(state_dir)
    if not path.exists() or not lock.try_acquire():
        return []
    db = AgentDb(path)
    try:
        killed: list[int] = []
        for held in Holdings(db).all():
            handle = held.handle
            if held.phase is Phase.RUNNING and handle is not None and handle.executor == "process":
                killed += kill_leftovers(int(handle.ref["pgid"]), float(handle.ref["start"]))
        return killed
    finally:
        db.close()
        lock.release()
