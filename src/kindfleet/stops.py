"""SIGTERM (a cancelled CI job, `timeout`) and SIGHUP (its terminal closed) taken as Ctrl-C:
what a command or a test session started and had not finished is removed, not left
running. Shared by the CLI and the pytest plugin; standard library only."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any

from kindfleet.stdio import to_devnull

# The stop signals this process was sent. The KeyboardInterrupt a handler raises can land
# in a library that reports it as an error of its own (pydantic's serializer does): once
# one came, whatever ends the command is the interrupt.
stopped: list[int] = []


def as_interrupt(signum: int, frame: object) -> None:
    """SIGTERM or SIGHUP, delivered as Ctrl-C is: to SIGINT's handler of the moment, which
    asyncio replaces while a loop runs (it cancels the loop's task rather than raise in
    whatever code runs: `kindfleet load`'s requests in flight)."""
    stopped.append(signum)
    if signum == signal.SIGHUP:  # the terminal is gone: writing to it fails the clean-up
        with contextlib.suppress(OSError):
            to_devnull(1)
            to_devnull(2)
    if callable(signal.getsignal(signal.SIGINT)):
        signal.raise_signal(signal.SIGINT)
        return
    raise KeyboardInterrupt  # SIGINT ignored (a background job): still stop


def stop_signals() -> dict[int, Any]:
    """SIGTERM and SIGHUP handled as Ctrl-C from now on, on the main thread only. A signal
    handled or ignored already (`nohup`) stays as it is. What they were before, to put
    back (the process may go on: a test's)."""
    before: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return before
    stopped.clear()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            before[sig] = signal.signal(sig, as_interrupt)
    return before
