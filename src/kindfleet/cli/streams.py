"""stdout and stderr for a command whose reader may go: `kindfleet workloads -o json | head
-1`, a closed descriptor (`>&-`).

A reader that stopped reading is no failure of the command: what it writes after that is
dropped and the command goes on to its own end and its own exit code (a `kindfleet up |
head -1` still brings the fleet up, or cleans up after itself). Without this, click ended
the command with exit 1 and no word, at whatever step the write happened (a pipeline under
`set -o pipefail` failed at random), and a closed stdout (None to Python) was reported as a
bug of ours. `spokectl logs --follow` stops instead: it has nothing else to do.
"""

from __future__ import annotations

import contextlib
import sys
from typing import IO, Any

from kindfleet.stdio import reopen_closed, to_devnull


class Forgiving:
    """A text stream that, once writing to it fails with EPIPE, writes to /dev/null: the
    descriptor itself is pointed there, so that what is buffered and what a subprocess
    that shares the descriptor writes go there too."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _drop(self) -> None:
        self.gone = True
        with contextlib.suppress(OSError, ValueError):
            to_devnull(self._stream.fileno())
        with contextlib.suppress(BrokenPipeError):  # now into /dev/null
            self._stream.flush()


def install() -> None:
    """sys.stdout and sys.stderr made forgiving; a closed one made /dev/null first."""
    reopen_closed()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, Forgiving):
            setattr(sys, name, Forgiving(stream))
