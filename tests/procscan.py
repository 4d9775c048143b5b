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


def end_naming(path: object) -> list[str]:
    """Kill live processes whose command line names `path` (a fleet's hub, links and
    agents name its directory), so that what a failing test left is not every later
    test's too; their command lines, for the assertion that there were none."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            line = " ".join(proc.cmdline())
            if str(path) in line:
                found.append(line)
                proc.kill()
        except psutil.Error:
            continue
    return found
