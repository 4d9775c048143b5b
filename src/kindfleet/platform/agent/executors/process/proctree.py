"""Process groups and process trees, through psutil: the two things the process executor
must get right beyond starting a command. Killing: a run is a whole process group (its own
session), and after an agent crash the group's leftovers are found by group or session id,
with start times checked so a reused pid is never killed. Measuring: cpu cores and resident
memory of the run's process tree between two samples.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress

import psutil

# psutil's create_time is derived from boot time and clock ticks: stable, but a float.
_SAME_START = 0.05


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to every process of the group; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # a pid reused by someone else's group: not ours to touch
        return False
    return True


def _group_or_session(pid: int) -> tuple[int, int] | None:
    try:
        return os.getpgid(pid), os.getsid(pid)
    except OSError:
        return None


def leftovers(pgid: int, leader_started: float) -> list[psutil.Process]:
    """Processes still in the run's group or session, started no earlier than its leader.

    When the leader's pid is alive with another start time, the pid was reused and the
    group is not the run's any more: nothing is returned.
    """
    with suppress(psutil.NoSuchProcess):
        leader = psutil.Process(pgid)
        if abs(leader.create_time() - leader_started) > _SAME_START:
            return []
    found = []
    for proc in psutil.process_iter():
        ids = _group_or_session(proc.pid)
        if ids is None or pgid not in ids or proc.pid == os.getpid():
            continue
        with suppress(psutil.NoSuchProcess):
            if proc.create_time() >= leader_started - _SAME_START:
                found.append(proc)
    return found


def kill_leftovers(pgid: int, leader_started: float, *, wait_seconds: float = 2.0) -> list[int]:
    """SIGKILL what `leftovers` finds; the pids that were killed."""
    procs = leftovers(pgid, leader_started)
    for proc in procs:
        with suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(procs, timeout=wait_seconds)
    return [p.pid for p in procs]


def start_time(pid: int) -> float:
    return psutil.Process(pid).create_time()


class TreeMeter:
    """CPU cores (from cpu-time deltas between samples) and RSS of a process and its
    descendants."""

    def __init__(self, pid: int) -> None:
        """Create it as the process starts: the first sample covers the time since then
        (psutil's create_time is anchored on a whole-second boot time, too coarse here)."""
        self.root = psutil.Process(pid)
        self._cpu: dict[tuple[int, float], float] = {}
        self._at = time.monotonic()

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def sample(self) -> tuple[float, int]:
        """(cpu cores used since the last sample, resident bytes now); (0, 0) once gone."""
        now = time.monotonic()
        used = 0.0
        rss = 0
        seen: dict[tuple[int, float], float] = {}
        for proc in self._tree():
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    times = proc.cpu_times()
                    rss += proc.memory_info().rss
            except psutil.NoSuchProcess:  # includes zombies
                continue
            cpu = times.user + times.system
            seen[key] = cpu
            used += cpu - self._cpu.get(key, 0.0)
        span = now - self._at
        self._cpu, self._at = seen, now
        return (max(used, 0.0) / span if span > 0 else 0.0), rss
