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
3. the trash is removed on a thread (`kindfleet.trees`: what a run made read-only,
   unreadable or thousands of levels deep included).

A crash between the steps leaves a directory for the next pass or trash for the next
start. A run key never starts with a dot, so `.trash` is nobody's run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kindfleet import trees
from kindfleet.platform.agent import logs, paths
from kindfleet.platform.agent.records import Records

log = logs.get("prune")
TRASH = ".trash"
PER_PASS = 2_000  # directories looked at and removed by one pass, at most
_YIELD_EVERY = 100  # renames between two turns of the event loop
_FILES = (paths.STDOUT, paths.STDERR, paths.METRICS, paths.OUTPUTS)


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
        self.identity = paths.dir_identity(runs_dir)  # the directory the agent made, not a stand-in
        self.refused = False

    async def run_once(self) -> int:
        """One pass; how many run directories it removed. None at all once the runs
        directory is no longer the one the agent started with: a run can reach it and put a
        symbolic link to elsewhere in its place, and a pass would remove what is there."""
        if not self._same():
            return 0
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

    def _same(self) -> bool:
        """The runs directory (and its trash, if there) are still the agent's own."""
        same = self.identity is not None and paths.dir_identity(self.runs_dir) == self.identity
        if same and (not os.path.lexists(self.trash) or paths.dir_identity(self.trash) is not None):
            return True
        if not self.refused:
            log.error(
                "run directories are no longer pruned: %s (or its %s) was replaced, by a run "
                "or by hand, and is not the directory this agent started with; restart the "
                "agent once it is put back",
                self.runs_dir,
                TRASH,
            )
        self.refused = True
        return False

    async def _move(self, keys: Sequence[str]) -> int:
        self.trash.mkdir(mode=paths.PRIVATE_DIR, exist_ok=True)
        moved = 0
        for i, key in enumerate(keys, 1):
            if i % _YIELD_EVERY == 1 and not self._same():
                break  # checked again after every turn of the loop another task may take
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
        if not self._same():
            return
        try:
            entries = os.scandir(self.trash)
        except FileNotFoundError:
            return
        with entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    trees.remove(entry.path)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


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
    """When the run directory or one of its own files last changed: each file's mtime, but
    never later than its ctime, which no one can set (`touch -d 2100-01-01` on its log
    made a run's directory never old enough to remove)."""
    newest = 0.0
    for where in (path, *(f"{path}/{name}" for name in _FILES)):
        try:
            found = os.stat(where, follow_symlinks=False)
        except OSError:
            continue
        newest = max(newest, min(found.st_mtime, found.st_ctime))
    return newest
