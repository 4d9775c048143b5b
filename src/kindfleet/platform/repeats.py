"""Log lines that say a thing once, not once per request that meets it.

A store that fails (a full disk, a database gone away) fails every request until it is back,
and the hub's writer warned once per failed request: 6,111 lines in two seconds on a full
disk, written to a log that may sit on that same disk. A message is logged when first seen,
then at most once per `every` seconds, with how many like it were held back meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

MAX_KINDS = 64  # distinct messages remembered; beyond that, memory is cleared and starts over


class Repeats:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self._seen: dict[str, tuple[float, int]] = {}  # message -> (last logged, held back)
        self._lock = threading.Lock()

    def warning(self, message: str) -> None:
        self.log(logging.WARNING, message)

    def error(self, message: str) -> None:
        self.log(logging.ERROR, message)

    def log(self, level: int, message: str) -> None:
        now = self.clock()
        with self._lock:
            logged, held = self._seen.get(message, (None, 0))
            if logged is not None and now - logged < self.every:
                self._seen[message] = (logged, held + 1)
                return
            if len(self._seen) >= MAX_KINDS:
                self._seen.clear()
            self._seen[message] = (now, 0)
        if logged is not None and held:
            since = now - logged
            self.logger.log(level, "%s (%d more like it in the last %.0fs)", message, held, since)
        else:
            self.logger.log(level, "%s", message)


def first_line(exc: BaseException) -> str:
    """What an error (or the driver error under it) says, in one line and without the SQL
    and parameters a driver echoes after it: fit for a log line, and for comparing two."""
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
