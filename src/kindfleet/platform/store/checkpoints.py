"""SQLite's WAL folded back into the database beside the writer, and started over.

By default SQLite checkpoints inside the commit that crosses 1,000 WAL pages: after a
burst of submissions that commit is some spoke's heartbeat, which then waits for the
whole WAL to be copied and synced (a second, with 100,000 rows queued). The writer turns
automatic checkpoints off; this thread runs a PASSIVE checkpoint on a connection of its
own every second: it copies what no reader still needs and never blocks the writer.

A checkpoint beside a busy writer never ends whole: the writer commits while it copies.
SQLite starts the WAL over only when a write begins with all of it in the database, so
under steady submissions the WAL grew for as long as they lasted (about 23 KB each: 1.7
GB after 20 s of `hub_vs_bare.py`'s submissions), every commit appending to new pages
that the kernel zeroes first (a quarter of the writer's CPU), slower as it grew. So once
the WAL is long this thread catches up (a few more passes, each copying what came in
during the last) and asks the writer to finish between two of its transactions: that
copies the last few frames and syncs (2-9 ms here), and the writer's next transaction
starts the WAL from the beginning, over pages still in memory. A reader still in an old
snapshot only puts it off to the next second. `journal_size_limit` gives back the disk
a burst took.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from sqlalchemy import Connection, Engine

from kindfleet.platform.repeats import Repeats, first_line

log = logging.getLogger("kindfleet.hub.store")
_failures = Repeats(log, every=60.0)  # a store that is down fails one every second

EVERY = 1.0
RESTART_FRAMES = 16_384  # a WAL this long (64 MiB of 4 KiB pages) is started over
CATCH_UP, LEFT_TO_WRITER = 3, 256  # passes, frames: the writer's share is a few ms
WAL_SIZE_LIMIT = 2 * RESTART_FRAMES * 4096  # bytes of WAL left on disk when it starts over
_PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"


def passive(conn: Any) -> int:
    """One PASSIVE checkpoint on a DB-API connection; the frames the WAL held when it began
    (all of them copied unless a reader still needs some: the writer may have added more)."""
    cursor = conn.cursor()
    try:
        cursor.execute(_PASSIVE)
        _busy, frames, _copied = cursor.fetchone()
    finally:
        cursor.close()
    return int(frames)


class Checkpointer:
    def __init__(
        self, engine: Engine, every: float = EVERY, restart_frames: int = RESTART_FRAMES
    ) -> None:
        self._engine = engine
        self._every = every
        self._restart_frames = restart_frames
        self._stop = threading.Event()
        self._behind = threading.Event()  # the WAL is long: the writer finishes a checkpoint
        self._thread = threading.Thread(target=self._loop, name="kf-store-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run_once(self, conn: Any) -> None:
        """The thread's checkpoint (on its own DB-API connection)."""
        frames = passive(conn)
        if frames < self._restart_frames:
            return
        for _ in range(CATCH_UP):  # each pass copies what was committed during the last
            since, frames = frames, passive(conn)
            if frames - since <= LEFT_TO_WRITER:
                break
        self._behind.set()

    def finish(self, conn: Connection) -> None:
        """On the writer, between transactions, once the WAL is long: copy what was committed
        since the last checkpoint, so that the next transaction starts the WAL over."""
        if not self._behind.is_set():
            return
        self._behind.clear()
        try:
            passive(conn.connection.driver_connection)
        except Exception as exc:  # the next checkpoint tries again; the writer goes on
            _failures.warning(f"finishing a WAL checkpoint failed: {first_line(exc)}")

    def _loop(self) -> None:
        conn: Any = None
        while not self._stop.wait(self._every):
            try:
                if conn is None:
                    conn = self._engine.raw_connection()  # autocommit: no BEGIN around it
                self.run_once(conn)
            except Exception as exc:
                _failures.warning(f"a WAL checkpoint failed: {first_line(exc)}")
                with contextlib.suppress(Exception):
                    conn.close()
                conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
