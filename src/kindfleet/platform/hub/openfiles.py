"""Connections may not take the file descriptors the hub itself needs.

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

import resource

RESERVE = 64  # descriptors kept for the hub: store connections, WAL, log, files it reads
CEILING = 65536  # the soft limit the hub raises itself to, at most


def connection_budget(wanted: int) -> tuple[int, int]:
    """(how many connections to allow, the open-files limit the hub now runs with)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = CEILING if hard == resource.RLIM_INFINITY else min(hard, CEILING)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # kept as it was: the budget below follows it
    if soft == resource.RLIM_INFINITY:
        return wanted, soft
    return max(1, min(wanted, soft - RESERVE)), soft
