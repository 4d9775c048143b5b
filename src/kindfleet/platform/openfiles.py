"""Open-files limits: raised for the processes that hold many descriptors (the hub's
connections, a launcher's keepers), and the hub's connections kept below its own.

The launcher held a socket per keeper: 1,100 runs on a spoke under the usual soft limit
of 1,024 failed 85 of them (StartFailed) while the hard limit allowed 20,000. It raises
its limit too, and gives its keepers (so the runs) the one it was started with.

Connections may not take the file descriptors the hub itself needs.

Every connection holds a descriptor, and so do the store's connections, its WAL and the
log. With the usual soft limit of 1,024 open files and 1,024 connections allowed, a
stranger's idle connections took them all (found by opening 300 idle connections to a hub
limited to 128): its store readers could not open ("unable to open database file"), the
scheduler pass failed twice a second and /healthz was reset. At start the hub raises its
soft limit towards the hard one (as nginx's `worker_rlimit_nofile` or systemd's
`LimitNOFILE` would), then allows as connections at most the limit less a reserve of its
own.
"""

from __future__ import annotations

import contextlib
import resource

RESERVE = 64  # descriptors kept for the hub: store connections, WAL, log, files it reads
CEILING = 65536  # the soft limit the hub raises itself to, at most


def raise_limit() -> tuple[int, int]:
    """Raise this process's soft open-files limit towards the hard one (at most CEILING);
    (the limits it had before), for `restore` in a child that must not have more."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = before
    target = CEILING if hard == resource.RLIM_INFINITY else min(hard, CEILING)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):  # else kept as it was
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return before


def restore(limits: tuple[int, int]) -> None:
    with contextlib.suppress(ValueError, OSError):  # else more than it had is all it gets
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def connection_budget(wanted: int) -> tuple[int, int]:
    """(how many connections to allow, the open-files limit the hub now runs with)."""
    raise_limit()
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted, soft
    return max(1, min(wanted, soft - RESERVE)), soft
