"""One agent per state directory. Two agents sharing one would each take the other's runs
for leftovers of a crash and kill them, and would interleave one outbox's sequence numbers.
An flock on `agent.lock` is held for the agent's lifetime; the kernel drops it when the
process dies (kill -9 included), so a crashed agent never blocks its successor.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.agent.paths import LOCK


class StateLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise PrerequisiteError(
                f"{self.path} is a symbolic link, not the agent's lock file",
                hint=f"remove it: rm {self.path}",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def acquire(self) -> None:
        if not self.try_acquire():
            raise PrerequisiteError(
                f"another agent is running with the state directory {self.path.parent}",
                hint="stop that agent first, or give this one its own --state-dir",
            )

    def held(self) -> bool:
        """Whether the lock file the agent holds is still the one its path names. A state
        directory removed under the agent (a /tmp cleaner, a stranger's rm -rf) left it
        running on a database no path names: every commit went into a deleted file and no
        run could start, each failing fast ("cannot create the run directory"); and a
        second agent could lock a new file at the same path."""
        if self._fd is None:
            return False
        try:
            ours, named = os.fstat(self._fd), os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):  # gone, or a file in its place
            return False
        except PermissionError:  # cannot look: no evidence that it is gone
            return True
        return (ours.st_dev, ours.st_ino) == (named.st_dev, named.st_ino)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
