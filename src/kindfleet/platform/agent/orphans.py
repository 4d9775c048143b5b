"""Kept only until the local provider calls `python -m kindfleet.platform.agent.spokectl
reap` instead of importing this; remove it then. Same behaviour as `spokectl reap`."""

from __future__ import annotations

from pathlib import Path

from kindfleet.platform.agent.executors.process import reaper
from kindfleet.platform.agent.lock import StateLock


def kill_orphans(state_dir: Path) -> list[int]:
    """Kill what is left of the process runs recorded in `state_dir`; the pids killed.

    Does nothing while an agent runs with that directory (its runs are its own business).
    """
    lock = StateLock(state_dir)
    if not state_dir.is_dir() or not lock.try_acquire():
        return []
    try:
        return reaper.reap(state_dir)
    finally:
        lock.release()
