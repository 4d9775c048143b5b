"""The layout of an agent's state directory, written down once. Standard library only:
`spokectl` and the process launcher use it too, and both must start fast.

    <state-dir>/agent.db (+ -wal, -shm)   held assignments, the outbox, pruned runs (0600)
    <state-dir>/credential                the spoke credential (0600)
    <state-dir>/hub-store                 the id of the hub's store this spoke joined
    <state-dir>/spoke-name                the spoke this directory is (one name, for ever)
    <state-dir>/agent.lock                one agent per state directory (flock)
    <state-dir>/keepers                   what the launcher started, for `spokectl reap`
    <state-dir>/runs/<run key>/           one run: stdout.log, stderr.log, outputs/ (0700
                                          directories, 0600 files), and metrics.jsonl once
                                          the run writes a metric; removed once old
                                          (prune.py)
    <state-dir>/runs/.trash/              what a prune pass moved aside to remove
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

DB = "agent.db"
CREDENTIAL = "credential"
HUB_STORE = "hub-store"
SPOKE_NAME = "spoke-name"
LOCK = "agent.lock"
KEEPERS = "keepers"
RUNS = "runs"
STDOUT, STDERR, METRICS, OUTPUTS = "stdout.log", "stderr.log", "metrics.jsonl", "outputs"
LOG_OF_STREAM = {"stdout": STDOUT, "stderr": STDERR}

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


_CLEAN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def run_key(workload: str, generation: int) -> str:
    """`<workload>-g<generation>`, safe as a file name whatever the hub's ids look like."""
    if _CLEAN.fullmatch(workload):  # the hub's own ids: nothing to clean
        return f"{workload}-g{generation}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in workload).lstrip(".")
    return f"{safe or '_'}-g{generation}"


def dir_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the real directory at `path` (a link is not followed); None when
    something else is there, or nothing. A run shares its agent's user and can reach the
    state directory: what the agent does by path there is checked against this."""
    try:
        found = os.lstat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino) if stat.S_ISDIR(found.st_mode) else None
