"""Cleaning up after a crash that nothing else cleaned up: the agent, its launcher and a
keeper killed in the same instant (a whole process group killed, the OOM killer, a machine
that froze). Nothing was left to kill those runs' processes then, so the next agent does it
before it starts its own launcher, and `spokectl reap` does it for an agent that will not
come back.

What to kill comes from the `keepers` file the launcher keeps in the state directory: the
launcher's and every keeper's process and session (a keeper is a session leader, its run
lives in its session) and, where the machine has cgroup v2, the launcher's cgroup, below
which every run's processes are. Start times are checked, so a pid reused since is never
touched, nor a session whose id a new leader took. What moved itself into a new session
and out of any cgroup is beyond reach: that is the one case cgroups exist for. Standard
library only (spokectl runs it).

With `keepers_seconds` (the agent, when its launcher has just died), a keeper still alive
is let finish first, for that long at most: the launcher's death signal has told it to
kill its run, and it is the one process that reaches all of it (a subreaper, its run below
it, whatever session each process moved to). Killed by its session mid-way, what it had
not yet killed would go to init, out of anyone's reach (seen: a setsid'd process left).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from pathlib import Path

from kindfleet.platform.agent import paths
from kindfleet.platform.agent.executors.process import cgroups, procfs

KEEPERS_FINISH_SECONDS = 15.0  # a keeper kills its run's leftovers for at most 10 s


def reap(
    state_dir: Path,
    *,
    wait_seconds: float = 5.0,
    keepers_seconds: float = 0.0,
) -> list[int]:
    """Kill what is left of the runs launched for `state_dir`; the pids killed. The caller
    must hold the state directory's lock (no live agent uses it)."""
    records = state_dir / paths.KEEPERS
    try:
        lines = records.read_text().splitlines()
    except FileNotFoundError:
        return []
    groups: list[Path] = []
    sessions: dict[int, int] = {}  # session id (a launcher or keeper pid) -> its start
    keepers: dict[int, int] = {}
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "cgroup":
            groups.append(Path(rest))
        elif kind in ("launcher", "keeper"):
            try:
                pid, start = map(int, rest.split())
            except ValueError:  # torn by a full disk (its keeper was killed at once)
                continue
            sessions[pid] = start
            if kind == "keeper":
                keepers[pid] = start
    deadline = time.monotonic() + keepers_seconds
    while time.monotonic() < deadline and any(procfs.alive(p, s) for p, s in keepers.items()):
        time.sleep(0.01)
    killed = set[int]()
    for group in groups:
        if group.is_dir():
            killed.update(cgroups.kill(group, wait_seconds=wait_seconds))
            cgroups.remove(group)
    killed.update(_kill_sessions(sessions, wait_seconds))
    _empty(records)
    return sorted(killed - {os.getpid()})


def _empty(records: Path) -> None:
    """The records emptied, never through a link: a run can reach the state directory and
    put one there, and the file it names is not ours to truncate (the link goes)."""
    try:
        os.close(os.open(records, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC))
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        os.unlink(records)


def _kill_sessions(sessions: dict[int, int], wait_seconds: float) -> list[int]:
    """Kill what is left in the recorded sessions. A session id whose number is now
    another process's (its pid reused by a new session leader: an agent started with its
    own session, a user's shell) is not the recorded session, which ended with its last
    process (the kernel does not give out a pid still in use as a session id): it is left
    alone. Before, the start-time check alone let a reap kill every process of such a
    session, as each started after the recorded keeper (seen: a test's reap killed the
    agents of fleets that other tests were bringing up)."""
    if not sessions:
        return []
    procs = list(procfs.scan())
    leaders = {p.pid: p.start for p in procs if p.pid in sessions}
    ours = {sid for sid, start in sessions.items() if leaders.get(sid, start) == start}
    found = [p.pid for p in procs if p.sid in ours and p.start >= sessions[p.sid] and not p.zombie]
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and any(_running(pid) for pid in found):
        time.sleep(0.01)
    return found


def _running(pid: int) -> bool:
    found = procfs.stat(pid)
    return found is not None and not found.zombie
