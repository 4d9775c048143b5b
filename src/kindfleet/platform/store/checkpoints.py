"""SQLite's WAL folded back into the database beside the writer, never by it.

By default SQLite checkpoints inside the commit that crosses 1,000 WAL pages: after a
burst of submissions that commit is some spoke's heartbeat, which then waits for the
whole WAL to be copied and synced (a second, with 100,000 rows queued). The writer turns
automatic checkpoints off; this thread runs a PASSIVE checkpoint on a connection of its
own every second: it copies what no reader still needs and never blocks the writer.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("kindfleet.hub.store")

EVERY = 1.0


class Checkpointer:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kf-store-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        conn: Any = None
        while not self._stop.wait(EVERY):
            try:
                if conn is None:
                    conn = self._engine.raw_connection()  # autocommit: no BEGIN around it
                cursor = conn.cursor()
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.close()
            except Exception as exc:
                log.warning("a WAL checkpoint failed: %s", type(exc).__name__)
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
