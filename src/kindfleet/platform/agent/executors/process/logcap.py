"""A run's stdout and stderr kept to a size, as the kubelet keeps a container's log
(containerLogMaxSize 10Mi, containerLogMaxFiles 5). Without it one chatty run fills the
spoke's disk: `yes` filled a 1 GB state disk in under two seconds, and with it went the
hub's store and every other run's files that shared that disk.

A run writes straight into its files (no pipe through the keeper: nothing slows it, and
nothing breaks under it when its keeper goes), so a file cannot be reopened under the run
as the kubelet has a container's reopened. The keeper copies the newest part of a file that
has grown past its cap to `<name>.1` (older copies move up to `<name>.<files - 1>`, the
oldest is dropped) and truncates the file, as logrotate's `copytruncate` does, under a lock
that has a follower of the log see it as one step (rotationlock.py). The run
appends (O_APPEND), so it goes on at the start of the emptied file (a writer that does not
goes on at its own offset: the hole before it takes no disk and is not counted). What it
writes between the copy and the truncation is lost, and a file may outgrow its cap by what
the run writes before the keeper looks again (it looks sooner the faster the file grows).
Once the run has ended, a file past its cap is replaced by its newest part instead, so the
end of the run's output stays where it is read. Standard library only: the keeper imports
it.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

from kindfleet import kubelet
from kindfleet.platform.agent.executors.process import rotationlock
from kindfleet.platform.agent.executors.process.pace import MAX_WAIT, MIN_WAIT, next_wait

_ALIGN = 1 << 16  # how far into the copied part a line start is looked for
_ROUNDING = 1 << 20  # room past a file's end a file system may hold on its own
_COPY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class LogCap:
    max_bytes: int = kubelet.LOG_MAX_BYTES  # 0: no cap
    files: int = kubelet.LOG_MAX_FILES  # the file itself and up to files - 1 older copies

    @property
    def on(self) -> bool:
        return self.max_bytes > 0


KUBELET_LIKE = LogCap()


def kept_from(size: int, max_bytes: int) -> int:
    """Where the copy of a file of `size` bytes starts: its last `max_bytes`."""
    return max(0, size - max_bytes)


class _File:
    """One log file of a run, by the keeper's own descriptor of it, opened before the run
    started: that file, whatever the run renames."""

    def __init__(self, name: str, write_fd: int) -> None:
        self.name = name
        self.write_fd = write_fd
        self.size = 0

    def reader(self) -> int:
        """The same file, to read from (the magic link opens the file the descriptor names)."""
        return os.open(f"/proc/self/fd/{self.write_fd}", os.O_RDONLY | os.O_CLOEXEC)


class RunLogs:
    def __init__(self, dir_fd: int, cap: LogCap) -> None:
        self.dir_fd = os.dup(dir_fd)
        self.cap = cap
        self.files: list[_File] = []
        self.looked = time.monotonic()
        self.due = self.looked + MIN_WAIT
        self.rotations = 0

    def add(self, name: str, write_fd: int) -> None:
        """Watch `name` (just created in the run's directory, written through `write_fd`)."""
        self.files.append(_File(name, os.dup(write_fd)))

    def check(self, now: float | None = None) -> None:
        """Rotate every file past its cap; set when to look again."""
        started = time.monotonic()
        now = started if now is None else now
        waits = [MAX_WAIT]
        for f in self.files:
            found = self._used(f)
            if found is None:
                continue
            used, size = found
            grown = used - f.size
            if used > self.cap.max_bytes:
                with rotationlock.rotating(f.write_fd) as locked:
                    # Unlocked, a follower is looking (or the run holds the lock's byte):
                    # at the next look, soon, unless the file is at twice its cap already.
                    if locked or used > 2 * self.cap.max_bytes:
                        self._rotate(f, size)
                        used = 0
                if used:
                    waits.append(MIN_WAIT)
            f.size = used
            waits.append(next_wait(self.cap.max_bytes - used, grown, now - self.looked))
        # The next look is timed from the end of this one: copying and truncating a file
        # of gigabytes takes a while, the run writes on meanwhile, and a look due "now"
        # found the file just emptied, took the run for quiet and waited the longest.
        now += time.monotonic() - started
        self.due = now + min(waits)  # the file nearest its cap, at its own pace
        self.looked = now

    def finish(self) -> None:
        """The run has ended (nothing writes any more): a file past its cap keeps its newest
        part itself, so what the run said last (a traceback, a last metric line) is still
        in `stdout.log` / `stderr.log`, where `kindfleet logs` and the agent look."""
        for f in self.files:
            found = self._used(f)
            if found is None or found[0] <= self.cap.max_bytes:
                continue
            self.rotations += 1
            try:
                self._keep_newest(f, found[1])
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(f"{f.name}.new", dir_fd=self.dir_fd)
                with contextlib.suppress(OSError):
                    os.ftruncate(f.write_fd, 0)

    def close(self) -> None:
        for f in self.files:
            with contextlib.suppress(OSError):
                os.close(f.write_fd)
        self.files = []
        with contextlib.suppress(OSError):
            os.close(self.dir_fd)

    def _used(self, f: _File) -> tuple[int, int] | None:
        """(bytes the file holds on disk, its size): they differ for a writer that does not
        append, which goes on at its own offset after a truncation and leaves a hole
        before it (the hole takes no disk, and is not counted), and for a file given room
        past its end (`fallocate --keep-size`: size 0, a gigabyte held, which the cap did
        not see): room past the end beyond a whole cap (and a MiB) is counted; less is a
        file system's own rounding, or XFS's speculative room for an appending writer."""
        try:
            st = os.fstat(f.write_fd)
        except OSError:
            return None
        held = st.st_blocks * 512
        if not held:
            return st.st_size, st.st_size
        if held - st.st_size > max(self.cap.max_bytes, _ROUNDING):
            return held, st.st_size
        return min(st.st_size, held), st.st_size

    def _rotate(self, f: _File, size: int) -> None:
        self.rotations += 1
        if self.cap.files > 1:
            for k in range(self.cap.files - 1, 1, -1):
                with contextlib.suppress(OSError):  # not there yet (or the run's doing)
                    self._rename(f"{f.name}.{k - 1}", f"{f.name}.{k}")
            try:
                self._copy(f, f"{f.name}.1", kept_from(size, self.cap.max_bytes), size)
            except OSError:  # a full disk, most likely: emptying the file is what helps
                with contextlib.suppress(OSError):
                    os.unlink(f"{f.name}.1", dir_fd=self.dir_fd)
        with contextlib.suppress(OSError):
            os.ftruncate(f.write_fd, 0)

    def _keep_newest(self, f: _File, size: int) -> None:
        """`name` replaced by its newest part, when `name` still is the run's file."""
        st = os.stat(f.name, dir_fd=self.dir_fd, follow_symlinks=False)
        mine = os.fstat(f.write_fd)
        if (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino):
            raise OSError("moved by the run")  # then it is only emptied
        self._copy(f, f"{f.name}.new", kept_from(size, self.cap.max_bytes), size)
        self._rename(f"{f.name}.new", f.name)

    def _rename(self, old: str, new: str) -> None:
        os.rename(old, new, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)

    def _copy(self, f: _File, copy: str, start: int, end: int) -> None:
        """The file from `start` (moved on past a hole, and to the next line's start where one
        is near) to `end`, into `copy`."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(copy, dir_fd=self.dir_fd)
        source = f.reader()
        try:
            with contextlib.suppress(OSError):  # ENXIO: no data after it
                start = os.lseek(source, start, os.SEEK_DATA)
            if start:
                head = os.pread(source, max(0, min(_ALIGN, end - start)), start)
                newline = head.find(b"\n")
                if 0 <= newline < len(head) - 1:
                    start += newline + 1
            out = os.open(copy, _COPY_FLAGS, 0o600, dir_fd=self.dir_fd)
            try:
                offset = start
                while offset < end:
                    sent = os.sendfile(out, source, offset, min(end - offset, 1 << 20))
                    if sent == 0:
                        break
                    offset += sent
            finally:
                os.close(out)
        finally:
            os.close(source)
