"""One kindfleet at a time changes a fleet: `up`, `down` and `deploy` hold its lock.

Two `kindfleet up` of one fleet at once would both see a cluster missing and both create
it (the second fails half-way with "node(s) already exist", and its cleanup removes the
first one's cluster). So each change takes an exclusive `flock` on the fleet's lock file
(beside its state directory, which `down` removes); a second one is refused at once,
naming the holder (what it runs, its pid, since when). The kernel releases the lock with
the process, so a `kill -9`'d kindfleet leaves nothing to clean up: the next run takes
over (and `up` then makes anew what the killed one left half-made).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from kindfleet.errors import PrerequisiteError
from kindfleet.statedir import fleet_dir

try:
    import fcntl
except ImportError:  # Windows: no flock; kindfleet's KIND fleets run where it exists
    fcntl = None  # type: ignore[assignment]

LOCKS = ".locks"  # beside the fleets' state directories, not in one


class FleetBusy(PrerequisiteError):
    """Another kindfleet is changing this fleet right now."""


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096) or b"{}")
        since = time.strftime("%H:%M:%S", time.localtime(float(data["since"])))
        return f"`kindfleet {data['what']}` (pid {data['pid']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another kindfleet"


def lock_path(fleet: str, root: Path | None = None) -> Path:
    """Outside the fleet's state directory, which `down` removes while it holds the lock: a
    lock file removed under its holder let a second `up` take a new one and start, and the
    `down` then removed what that `up` made (and, since it stops what it finds of the fleet
    by command line, stopped its hub)."""
    state = fleet_dir(fleet, root)
    return state.parent / LOCKS / f"{state.name}.lock"


@contextlib.contextmanager
def hold(fleet: str, what: str, root: Path | None = None) -> Iterator[None]:
    """Hold the fleet's lock while the block runs; FleetBusy (exit 3) when another has it.
    The lock file goes with its holder (a fleet taken down leaves nothing behind, a demo's
    directory included): it is removed while still held, and a taker that finds its file
    gone or replaced once it holds it starts again with the file now there."""
    if fcntl is None:
        yield
        return
    path = lock_path(fleet, root)
    fd = _take(path, fleet)
    try:
        record = {"what": what, "pid": os.getpid(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # still held: whoever waits on this file sees it gone, and retries
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # the last lock of this state root: nothing left
        os.close(fd)  # closing the descriptor releases the flock


_RETRIES = 50  # a holder removing the folder as it goes is a race of an instant


def _take(path: Path, fleet: str) -> int:
    failed = 0
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except (FileNotFoundError, FileExistsError) as exc:  # its folder, removed by a holder
            failed += 1  # leaving as it was made or opened in (mkdir's own check): again;
            if failed < _RETRIES:  # but not for ever: a dangling link or /proc in the state
                continue  # path fails every time (up and down spun at 100% CPU, silent)
            raise PrerequisiteError(
                f"cannot create {path.parent}: {exc.strerror} ({exc.filename})",
                hint="set $KINDFLEET_STATE_DIR to a directory you can write, or remove what "
                "stands in its way (a dangling symlink on the path?)",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FleetBusy(
                f"fleet {fleet} is being changed by {holder}",
                hint="wait for it to finish (or stop it); then run this again",
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the file this lock is on was removed by the holder before: again
