"""The store file's identity: a hub must notice that its SQLite file is gone (issue 14).

A SQLite connection keeps writing into a file that was deleted or replaced under it: the
commits succeed, into an inode no path names any more, and every 2xx after that is a
promise the next start cannot keep (it opens an empty store, and everything acknowledged
is gone). So the writer checks, before every commit, that the path still names the file
it opened (device and inode); when it does not, the commit fails, the hub answers 503,
`/readyz` says not ready, and the hub's silence clock stops (no spoke is judged on it).
"""

from __future__ import annotations

import os
from pathlib import Path

from kindfleet.platform.store.engine import StoreUnavailable


class FileIdentity:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._id: tuple[int, int] | None = None

    def remember(self) -> None:
        """Called once the store is open: this is the file the hub's promises are in."""
        if self.path is not None:
            st = os.stat(self.path)
            self._id = (st.st_dev, st.st_ino)

    def check(self) -> None:
        """Raise StoreUnavailable when the path no longer names the file opened."""
        if self._id is None or self.path is None:
            return
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._id
        except FileNotFoundError:
            same = False
        if not same:
            raise StoreUnavailable(
                f"the store file {self.path} was deleted or replaced while the hub ran: it "
                "acknowledges nothing more",
                hint="stop the hub and restore the store (hub.db with its -wal file) from a "
                "backup; a hub started on an empty store would forget every acknowledged "
                "workload",
            )
