"""cgroup v2, where the machine lets this user create groups: every process a run starts
lands in the run keeper's own group and cannot leave it by forking, double-forking or
`setsid`, and `cgroup.kill` (Linux 5.14) kills a whole group at once, fork bombs included.
That is what finds and kills a run's leftovers after a crash that took the agent, its
launcher and the run's keeper down together.

Without it (no cgroup2 mount, no write access, an older kernel) the keepers still contain
their runs as child subreapers; only that triple crash then leaves what a run had moved out
of its session behind. Standard library only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MOUNTINFO = "/proc/self/mountinfo"
SELF = "/proc/self/cgroup"


def own_group() -> Path | None:
    """This process's cgroup v2 directory, or None when there is no cgroup2 hierarchy."""
    try:
        lines = Path(SELF).read_text().splitlines()
        mounts = Path(MOUNTINFO).read_text().splitlines()
    except OSError:
        return None
    rel = next((line[3:] for line in lines if line.startswith("0::")), None)
    mount = None
    for line in mounts:
        pre, _, post = line.partition(" - ")
        if post.split(" ", 1)[0] == "cgroup2":
            mount = pre.split()[4]
            break
    if rel is None or mount is None or rel.endswith("(deleted)"):
        return None
    return Path(mount + rel.rstrip("/")) if rel != "/" else Path(mount)


def make_base(name: str) -> Path | None:
    """A new group `name` under this process's own, fit to hold runs (it can be entered and
    killed); None when that is not possible here."""
    parent = own_group()
    if parent is None:
        return None
    base = parent / name
    try:
        base.mkdir(mode=0o700)
    except OSError:
        return None
    if not (base / "cgroup.kill").exists() or not os.access(base / "cgroup.procs", os.W_OK):
        remove(base)
        return None
    return base


def enter(group: Path, pid: int = 0) -> None:
    """Move `pid` (0: the caller) into `group`; its future children are born there."""
    with open(group / "cgroup.procs", "w") as f:
        f.write(str(pid))


def members(group: Path, *, below: bool = False) -> list[int]:
    """The processes in `group` (and, `below`, in its subgroups too)."""
    try:
        found = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        if below:
            for sub in group.iterdir():
                if sub.is_dir():
                    found += members(sub, below=True)
    except OSError:
        return []
    return found


def populated(group: Path) -> bool:
    try:
        text = (group / "cgroup.events").read_text()
    except OSError:
        return False
    return "populated 1" in text


def kill(group: Path, *, wait_seconds: float = 5.0) -> list[int]:
    """SIGKILL everything in `group` and below at once; wait (bounded) until it is empty.
    The pids that were in it."""
    pids = members(group, below=True)
    try:
        (group / "cgroup.kill").write_text("1")
    except OSError:
        return []
    deadline = time.monotonic() + wait_seconds
    pause = 0.001
    while populated(group) and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return pids


def remove(group: Path) -> bool:
    """Remove `group` and its (empty) subgroups; False if something still lives there."""
    try:
        for sub in sorted((p for p in group.iterdir() if p.is_dir()), reverse=True):
            remove(sub)
        group.rmdir()
    except OSError:
        return False
    return True
