"""Log lines that say what happened and nothing else: one event, one line.

Anything a client or a spoke chose (a label, a name in a refused request, a message) may
hold a newline or a terminal escape; written as is, it could forge a log line of its own
or rewrite the operator's screen. `SafeFormatter` escapes every control character of every
message the hub logs; `shown` does the same for a value on its way into a message. And a
line anyone may cause, before any token is checked, is written at most once a spell
(`Spell`): 35,000 anonymous requests in five seconds wrote 35,000 ERROR lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(text: str) -> str:
    """`text` with every control character (C0, DEL, C1, line and paragraph separators)
    escaped, so that it can never start a line or move a terminal's cursor."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return _ESCAPES.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class SafeFormatter(logging.Formatter):
    """A formatter whose messages never span lines; tracebacks stay as they are (indented)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = shown(record.message)
        return super().formatMessage(record)


class Spell:
    """At most one line a `seconds`; the next one says how many were left out meanwhile."""

    def __init__(self, clock: Callable[[], float], seconds: float = 60.0) -> None:
        self.clock = clock
        self.seconds = seconds
        self._next = float("-inf")
        self.left_out = 0

    def log(self, logger: logging.Logger, level: int, message: str, *args: object) -> None:
        now = self.clock()
        if now < self._next:
            self.left_out += 1
            return
        if self.left_out:
            message += f" (and {self.left_out} more like it in the last {self.seconds:g}s)"
            self.left_out = 0
        self._next = now + self.seconds
        logger.log(level, message, *args)
