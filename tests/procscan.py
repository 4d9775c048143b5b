"""Finding processes by what their environment holds, from /proc itself: how tests see
that nothing of a run survived (a marker in the run's environment is inherited by every
process it starts, whatever session or group each moved to)."""

from __future__ import annotations

import psutil


def with_environment(*pairs: str) -> list[int]:
    """Live processes (zombies are dead) whose environment holds every `KEY=VALUE`."""
    wanted = {pair.encode() for pair in pairs}
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            with open(f"/proc/{proc.pid}/environ", "rb") as f:
                if wanted <= set(f.read().split(b"\0")):
                    found.append(proc.pid)
        except (OSError, psutil.Error):
            continue
    return found
