"""Private scratch folders in the temp directory, named for the process that made them.

`up` and the kind provider write each new cluster's admin kubeconfig into a throwaway
folder; a process killed with SIGKILL runs no clean-up, and its folder stayed in /tmp for
good (0600 files in a 0700 folder, but nobody's to keep). So each folder carries its
maker's pid, and `sweep` (at the start of `up`) removes those this user's dead processes
left. A pid reused since keeps its folder until that process ends too: never a live one's.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kindfleet import trees

PREFIX = "kindfleet-"
_OURS = re.compile(rf"{PREFIX}[a-z]+-(\d+)-")


@contextlib.contextmanager
def folder(purpose: str) -> Iterator[Path]:
    """A 0700 folder for this process's `purpose` (a lower-case word), removed after."""
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{purpose}-{os.getpid()}-") as path:
        yield Path(path)


def sweep(root: Path | None = None) -> list[Path]:
    """Remove the folders that this user's processes, now dead, left; what was removed."""
    where = root or Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    for entry in entries:
        found = _OURS.match(entry.name)
        if found is None or _alive(int(found[1])):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False) and entry.stat().st_uid == os.getuid():
                trees.remove(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True
