"""The hub's and the agent's log files: private, and followed when they are moved away.

Both opened their log once and kept writing to that file: after a logrotate-style move
the lines went on into `hub.log.1` and `hub.log` stayed empty (what `kindfleet logs`
reads); after an `rm hub.log` to free a full disk, they went into a deleted file that kept
its space and grew unseen. `logging.handlers.WatchedFileHandler` reopens the path when it
no longer names the open file; here it reopens it 0600 whatever the umask, as the first
open did (a log holds workload names, spoke names, errors of the store). Standard library
only.
"""

from __future__ import annotations

import errno
import os
from io import TextIOWrapper
from logging.handlers import WatchedFileHandler
from pathlib import Path


class PrivateLog(WatchedFileHandler):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        super().__init__(path, encoding="utf-8")

    def _open(self) -> TextIOWrapper:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(self.baseFilename, flags, 0o600)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            # A link where the log should be (an agent's runs can reach its state
            # directory): the file it names is not ours to append to and chmod; the link
            # goes, and the log is made anew.
            os.unlink(self.baseFilename)
            fd = os.open(self.baseFilename, flags | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)  # an older log may be wider
        return open(fd, "a", encoding="utf-8")
