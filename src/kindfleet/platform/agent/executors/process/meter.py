"""CPU and memory of a run: the processes below its keeper (the keeper itself excluded),
read from /proc (procfs.py). A tree walk from the keeper, not a scan of every process on
the machine, so sampling costs in proportion to the run, not to the spoke."""

from __future__ import annotations

import time

from kindfleet.platform.agent.executors.process import procfs


class TreeMeter:
    """CPU cores (from cpu-time deltas between samples) and resident memory of a run."""

    def __init__(self, keeper: int, keeper_start: int) -> None:
        """Create it as the run starts: the first sample covers the time since then."""
        self.keeper = keeper
        self.keeper_start = keeper_start
        self._cpu: dict[tuple[int, int], int] = {}
        self._at = time.monotonic()

    def sample(self) -> tuple[float, int]:
        """(cpu cores used since the last sample, resident bytes now); (0, 0) once gone."""
        now = time.monotonic()
        seen: dict[tuple[int, int], int] = {}
        used = rss = 0
        if procfs.alive(self.keeper, self.keeper_start):
            for pid in procfs.descendants(self.keeper):
                found = procfs.stat(pid)
                if found is None or found.zombie:
                    continue
                key = (pid, found.start)
                seen[key] = found.cpu_ticks
                used += found.cpu_ticks - self._cpu.get(key, 0)
                rss += found.rss_bytes
        span = now - self._at
        self._cpu, self._at = seen, now
        cores = max(used, 0) / procfs.TICKS / span if span > 0 else 0.0
        return cores, rss
