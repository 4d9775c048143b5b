"""A run's memory held to its spec's `resources.memory`, as a cluster holds a container's
(the spec's memory is its Job's limit, jobs.py). Without it, a run that uses more than it
asked for succeeds on the embedded runtime and is OOMKilled on a cluster: the very
difference a local environment must not have.

On a node the kernel enforces the limit (the container cgroup's memory.max). The process
executor cannot count on such a group (cgroup v1 hosts, users with no delegated v2
subtree), so the keeper measures: it adds up, over its run's processes, the memory the
kernel could not reclaim without swap (anonymous and shared memory, `Pss_Anon` and
`Pss_Shmem` of smaps_rollup: shares, so pages a fork shares with its parent count once),
which is what an OOM kill answers. Past the limit it kills the whole run, as a cluster
kills a whole container (memory.oom.group), and reports it OOMKilled with exit code 137.

It looks often while the run's memory grows towards the limit and seldom while it is
steady (pace.py), so a run that allocates all at once can outgrow its limit until the next
look: a faithful verdict on a workload's size, not a fence that keeps the machine safe.
Standard library only: the keeper imports it.
"""

from __future__ import annotations

from kindfleet.platform.agent.executors.process import procfs
from kindfleet.platform.agent.executors.process.pace import next_wait

FIRST_LOOK = 0.1  # seconds after the start: a run that ends sooner is never measured
_KIB = 1024
_ROLLUP = (b"Pss_Anon:", b"Pss_Shmem:")
_OLD_ROLLUP = (b"Anonymous:",)  # kernels before 5.9 (shared pages count in full)
_STATUS = (b"RssAnon:", b"RssShmem:")  # kernels before 4.14


def fields_kib(text: bytes, names: tuple[bytes, ...]) -> int | None:
    """The sum of the named `Name:   123 kB` fields, in KiB; None when none is there."""
    total, seen = 0, False
    for line in text.splitlines():
        for name in names:
            if line.startswith(name):
                number = line[len(name) :].split()[:1]
                if number and number[0].isdigit():
                    total += int(number[0])
                    seen = True
    return total if seen else None


def used_bytes(pid: int) -> int:
    """What the process `pid` holds that only an OOM kill would free (0 when it is gone)."""
    rollup = procfs.read(f"/proc/{pid}/smaps_rollup")
    if rollup is not None:
        kib = fields_kib(rollup, _ROLLUP)
        if kib is None:
            kib = fields_kib(rollup, _OLD_ROLLUP)
        if kib is not None:
            return kib * _KIB
    status = procfs.read(f"/proc/{pid}/status")
    return (fields_kib(status, _STATUS) or 0) * _KIB if status else 0


def describe(used: int, limit: int) -> str:
    return (
        f"the run's processes used {_mib(used)} of memory, past its limit of {_mib(limit)} "
        "(resources.memory): killed whole, as a cluster kills such a container"
    )


class MemoryWatch:
    """When to look at a run's memory again, and whether it is over its limit."""

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.due = now + FIRST_LOOK
        self.looked = now
        self.used = 0

    def over(self, used: int, now: float) -> bool:
        """Record what the run uses now; True when that is past its limit."""
        grown = used - self.used
        self.due = now + next_wait(self.limit - used, grown, now - self.looked)
        self.looked, self.used = now, used
        return used > self.limit


def _mib(n: int) -> str:
    """64Mi for a whole number (a limit, as written), else one decimal: 64.1Mi is past 64Mi."""
    return f"{n >> 20}Mi" if n % 2**20 == 0 else f"{n / 2**20:.1f}Mi"
