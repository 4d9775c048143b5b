"""What the kernel says about processes, read straight from /proc: a process's parent,
session, state, start time and cpu/memory use, and its children. Standard library only (the
launcher and its keepers use it) and cheap: a run's processes are found by walking down
from the run's keeper through `/proc/<pid>/task/<tid>/children`, never by scanning every
process on the machine. The one full scan (`scan`) is for cleaning up after a crash.

Start times are in clock ticks since boot (field 22 of /proc/<pid>/stat): exact, so a
pid reused by another process is told apart from the one recorded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

PROC = "/proc"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Stat:
    pid: int
    state: str  # R, S, D, Z (zombie), T (stopped), ...
    ppid: int
    pgid: int
    sid: int
    cpu_ticks: int  # user + system
    start: int  # clock ticks after boot
    rss_bytes: int

    @property
    def zombie(self) -> bool:
        return self.state in ("Z", "X")


def read(path: str) -> bytes | None:
    """A small /proc file in one read (no buffered file object: fewer system calls)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # gone, or /proc is not there
        return None
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return None
    finally:
        os.close(fd)


def stat(pid: int) -> Stat | None:
    """The process `pid` now, or None when there is no such process."""
    raw = read(f"{PROC}/{pid}/stat")
    if not raw:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    return Stat(
        pid=pid,
        state=fields[0].decode(),
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        start=int(fields[19]),
        rss_bytes=int(fields[21]) * PAGE,
    )


def start_of(pid: int) -> int | None:
    found = stat(pid)
    return found.start if found else None


def alive(pid: int, start: int) -> bool:
    """True while the process recorded as (`pid`, `start`) runs (a zombie has ended)."""
    found = stat(pid)
    return found is not None and found.start == start and not found.zombie


def children(pid: int, *, threads: bool = True) -> list[int]:
    """The direct children of `pid`, forked by any of its threads (`threads=False`: by its
    main thread only, for a process known to have no other); [] when it is gone."""
    if not threads:
        raw = read(f"{PROC}/{pid}/task/{pid}/children")
        return [int(p) for p in raw.split()] if raw else []
    found: list[int] = []
    try:
        tasks = os.listdir(f"{PROC}/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        raw = read(f"{PROC}/{pid}/task/{tid}/children")
        if raw:  # None: that thread ended meanwhile
            found.extend(int(p) for p in raw.split())
    return found


def descendants(
    pid: int, *, skip: frozenset[int] = frozenset(), single_threaded: bool = False
) -> list[int]:
    """Every process below `pid`, parents before their children; subtrees rooted at a pid in
    `skip` are left out. `single_threaded`: `pid` itself has one thread (a keeper, the
    launcher), so its children are read in one go."""
    first = children(pid, threads=not single_threaded)
    return _below(first, children, skip)


def _below(
    first: list[int], children_of: Callable[[int], list[int]], skip: frozenset[int]
) -> list[int]:
    """The processes under `first` (included), parents before their children, without the
    subtrees rooted in `skip`."""
    found = [child for child in first if child not in skip]
    todo = list(found)
    while todo:
        for child in children_of(todo.pop()):
            if child not in skip:
                found.append(child)
                todo.append(child)
    return found


def descendants_scanned(pid: int, *, skip: frozenset[int] = frozenset()) -> list[int]:
    """`descendants`, from every process's own stat file: slower (all of /proc), but right
    while processes exit. A `children` file read while a child of that process exits may
    leave out children that live on (proc(5)); a kill loop that trusted it could stop with
    a process left."""
    below: dict[int, list[int]] = {}
    for found in scan():
        if not found.zombie:
            below.setdefault(found.ppid, []).append(found.pid)
    return _below(below.get(pid, []), lambda p: below.get(p, []), skip)


def has_children() -> bool:
    """Whether this process has any child at all, living or not yet reaped: the kernel's
    own answer (waitid), which no exiting process can make incomplete."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def scan() -> Iterator[Stat]:
    """Every process on the machine (for crash cleanup only: this reads all of /proc)."""
    try:
        names = os.listdir(PROC)
    except OSError:
        return
    for name in names:
        if name.isdigit():
            found = stat(int(name))
            if found is not None:
                yield found
