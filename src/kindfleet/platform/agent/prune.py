"""Run directories removed once their runs are long over, and a generation still never
runs twice.

A run's directory holds its logs and outputs (what `spokectl logs` reads) and is also its
launch guard: the keeper creates it with mkdir, so a generation whose directory exists is
never started again (keeper.py). Kept forever, a busy spoke gathers four inodes and the
logs of every run it ever ran. So a directory whose run this agent no longer holds (ended
and acknowledged, dropped, lost) and that has not changed for `--run-retention-seconds`
is removed, and its run key guards in its stead, in the journal's `pruned` table: a start
of a pruned key is refused (supervise.py) as the keeper refuses an existing directory.
The order makes it safe against a start racing the removal:

1. the keys are committed to `pruned`;
2. on the event loop, each key the agent still does not hold is renamed into
   `runs/.trash` in one step with that check (a run holds its key from its accept, before
   any start: one accepted before step 1 keeps its directory, and the mkdir refuses it;
   one accepted after finds its key in `pruned`);
3. the trash is removed on a thread.

A crash between the steps leaves a directory for the next pass or trash for the next
start. A run key never starts with a dot, so `.trash` is nobody's run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kindfleet.platform.agent import logs, paths
from kindfleet.platform.agent.records import Records

log = logs.get("prune")
TRASH = ".trash"
PER_PASS = 2_000  # directories looked at and removed by one pass, at most
_YIELD_EVERY = 100  # renames between two turns of the event loop
_FILES = (paths.STDOUT, paths.STDERR, paths.METRICS, paths.OUTPUTS)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def every(retention: float) -> float:
    """How often a pass runs: a fraction of the retention, from 0.2 s to 5 min."""
    return min(max(retention / 4, 0.2), 300.0)


class Pruner:
    def __init__(
        self,
        runs_dir: Path,
        retention: float,
        records: Records,
        held: Callable[[str], bool],
    ) -> None:
        self.runs_dir = runs_dir
        self.retention = retention
        self.records = records
        self.held = held
        self.trash = runs_dir / TRASH
        self.behind = False  # the last pass found as many as it takes: more may be waiting

    async def run_once(self) -> int:
        """One pass; how many run directories it removed."""
        now = time.time()
        before = now - self.retention
        keys = await asyncio.to_thread(_stale, self.runs_dir, before, PER_PASS, self.held)
        self.behind = len(keys) >= PER_PASS
        moved = 0
        if keys:
            await self.records.pruned(keys, now)
            moved = await self._move(keys)
        await asyncio.to_thread(self.empty_trash)  # this pass's, or what a crash left
        if moved:
            log.info("run directories removed: %d (unchanged for %gs)", moved, self.retention)
        return moved

    async def _move(self, keys: Sequence[str]) -> int:
        self.trash.mkdir(mode=paths.PRIVATE_DIR, exist_ok=True)
        moved = 0
        for i, key in enumerate(keys, 1):
            if not self.held(key):  # and renamed in the same step of the event loop
                try:
                    os.rename(self.runs_dir / key, self.trash / key)
                    moved += 1
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    log.warning("cannot remove the run directory %s: %s", key, exc.strerror)
            if i % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
        return moved

    def empty_trash(self) -> None:
        """Remove what earlier passes moved aside (a pass, or a crash, may have left some)."""
        try:
            entries = os.scandir(self.trash)
        except FileNotFoundError:
            return
        with entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    remove(entry.path)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


def remove(top: str) -> None:
    """rmtree (which follows no link inside) that also removes what a run made read-only
    or unreadable to its own user, as a Go module cache is read-only: its directories are
    made their owner's again and the removal tried once more. What still cannot be removed
    stays, and the next pass tries again."""
    try:
        shutil.rmtree(top, ignore_errors=True)
        if os.path.lexists(top):
            _own(top)
            shutil.rmtree(top, ignore_errors=True)
    except RecursionError:  # deeper than rmtree goes: a run can nest thousands of levels
        _remove_deep(top)


def _remove_deep(top: str) -> None:
    """Bottom-up, holding one directory descriptor at a time and walking back up by '..':
    no recursion, and no path that grows with the depth. The run is over: nothing moves
    its tree meanwhile."""
    try:
        os.chmod(top, paths.PRIVATE_DIR)  # as each directory below, before it is opened
        fd = os.open(top, _DIR_FLAGS)
    except OSError:
        return
    names: list[str] = []  # from `top` down to where `fd` is
    try:
        while True:
            child = _empty_but_one(fd)
            if child is not None:
                os.chmod(child, paths.PRIVATE_DIR, dir_fd=fd)  # read-only or sealed by the run
                inner = os.open(child, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = inner
                names.append(child)
            elif names:
                outer = os.open("..", _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = outer
                os.rmdir(names.pop(), dir_fd=fd)
            else:
                break
    except OSError:
        pass  # what is left, the next pass tries again
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(top)


def _empty_but_one(fd: int) -> str | None:
    """Unlink what is not a directory in `fd`'s directory; the name of a subdirectory left."""
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            os.unlink(entry.name, dir_fd=fd)
    return None


def _own(top: str) -> None:
    """Every real directory under `top` readable, writable and searchable by its owner,
    each before it is looked into (a file's own mode does not keep it from removal)."""
    below = [top]
    while below:
        directory = below.pop()
        try:
            if not os.path.islink(directory):
                os.chmod(directory, paths.PRIVATE_DIR)
            with os.scandir(directory) as entries:
                below.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            continue


def _stale(runs_dir: Path, before: float, limit: int, held: Callable[[str], bool]) -> list[str]:
    """Run directories not held and unchanged since `before` (their files included), up to
    `limit`. On a thread: what is held may change meanwhile, and is looked at again."""
    found: list[str] = []
    try:
        entries = os.scandir(runs_dir)
    except FileNotFoundError:
        return found
    with entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            if not held(entry.name) and _changed(entry.path) < before:
                found.append(entry.name)
                if len(found) >= limit:
                    break
    return found


def _changed(path: str) -> float:
    """When the run directory or one of its own files last changed."""
    newest = 0.0
    for where in (path, *(f"{path}/{name}" for name in _FILES)):
        try:
            newest = max(newest, os.stat(where, follow_symlinks=False).st_mtime)
        except OSError:
            continue
    return newest
