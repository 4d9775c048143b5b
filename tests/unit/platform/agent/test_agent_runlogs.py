"""What `spokectl logs` gives out of a run's log: the last lines across its rotated copy, and
what comes next, across a rotation (runlogs.py). Real files."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from kindfleet.platform.agent import runlogs
from kindfleet.platform.agent.executors.process.logcap import LogCap, RunLogs
from kindfleet.platform.agent.executors.process.tails import Position
from kindfleet.platform.agent.runlogs import last_lines


def _fd(path: Path, data: bytes) -> tuple[int, int]:
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    return fd, len(data)


def test_the_last_lines_come_from_the_log_then_its_copy(tmp_path: Path) -> None:
    copy = _fd(tmp_path / "stdout.log.1", b"c0\nc1\nc2\n")
    log = _fd(tmp_path / "stdout.log", b"l0\nl1\n")
    try:
        assert last_lines([copy, log], 1) == b"l1\n"
        assert last_lines([copy, log], 3) == b"c2\nl0\nl1\n"
        assert last_lines([copy, log], 99) == b"c0\nc1\nc2\nl0\nl1\n"
        assert last_lines([copy, log], 0) == b""
        assert last_lines([(log[0], 3)], 5) == b"l0\n"  # only as far as it was when looked at
    finally:
        os.close(copy[0])
        os.close(log[0])


def test_the_last_lines_of_a_long_log_are_whole(tmp_path: Path) -> None:
    data = b"".join(b"line %06d\n" % i for i in range(50_000))  # many chunks
    fd, end = _fd(tmp_path / "stdout.log", data)
    try:
        assert last_lines([(fd, end)], 3) == b"line 049997\nline 049998\nline 049999\n"
    finally:
        os.close(fd)


def _followed(fd: int, end: int) -> bytes:
    """What a follower told to stop at once gives out: what is left to it, and no more."""
    out: list[bytes] = []
    stop = threading.Event()
    stop.set()
    try:
        runlogs.follow(fd, Position(end), out.append, stop)
    finally:
        os.close(fd)
    return b"".join(out)


def test_a_follower_told_to_stop_gives_out_what_is_left(tmp_path: Path) -> None:
    fd, end = _fd(tmp_path / "stdout.log", b"seen\n")
    with (tmp_path / "stdout.log").open("ab") as f:
        f.write(b"new\n")
    assert _followed(fd, end) == b"new\n"


def test_a_follower_reads_a_rotated_log_again_from_its_start(tmp_path: Path) -> None:
    fd, end = _fd(tmp_path / "stdout.log", b"a long first part\n")
    (tmp_path / "stdout.log").write_bytes(b"after\n")  # emptied, then written again: shorter
    assert _followed(fd, end) == b"after\n"


def test_lines_end_at_newlines_only(tmp_path: Path) -> None:
    """A progress bar's carriage returns are inside its line, as kubectl counts."""
    fd, end = _fd(tmp_path / "stdout.log", b"epoch 1\n10%\r50%\r100%\nloss 0.1\n")
    try:
        assert last_lines([(fd, end)], 2) == b"10%\r50%\r100%\nloss 0.1\n"
    finally:
        os.close(fd)
    assert runlogs.cut_lines(b"a\nb", 1) == b"b"
    assert runlogs.cut_lines(b"a\nb\n", 5) == b"a\nb\n"


def test_a_follower_told_to_stop_does_not_chase_a_writer(tmp_path: Path) -> None:
    """Told to stop, it gives out what is there then and returns, however fast the run
    writes on (here: more at each write it makes)."""
    path = tmp_path / "stdout.log"
    fd, end = _fd(path, b"seen\n")
    with path.open("ab") as f:
        f.write(b"there when told\n")

    def write(data: bytes) -> None:
        out.append(data)
        with path.open("ab") as more:
            more.write(b"written after\n" * 10_000)

    out: list[bytes] = []
    stop = threading.Event()
    stop.set()
    try:
        runlogs.follow(fd, Position(end), write, stop)
    finally:
        os.close(fd)
    assert b"".join(out) == b"there when told\n"


def test_a_rotation_is_seen_by_its_new_copy_and_a_cut_line_is_not_spliced(tmp_path: Path) -> None:
    """Lines alike (JSON logs with a constant end): the file grew back past the point given
    out with the same last bytes; only the new copy says it was rotated."""
    path = tmp_path / "stdout.log"
    fd, end = _fd(path, b'{"step": 1, "ok": true}\n{"step": 2, "ok": tr')
    (path).write_bytes(b'{"step": 9, "ok": true}\n{"step": 10, "ok": true}\n')  # rotated
    out: list[bytes] = []
    stop = threading.Event()
    stop.set()
    try:
        runlogs.follow(fd, Position(end, b'"ok": tr'), out.append, stop, copy_id=lambda: 2, seen=1)
    finally:
        os.close(fd)
    shown = b"".join(out)
    assert shown == b'\n{"step": 9, "ok": true}\n{"step": 10, "ok": true}\n'  # the cut line ended


def test_a_follower_looking_while_a_rotation_is_half_done_gives_no_line_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new copy is there and the log not yet emptied: a follower that looked then took
    the copy for the whole rotation, gave out the log again from its start, then again once
    it was emptied. Here the keeper stops between the two steps until the follower has
    looked twice (or a second has passed: with the lock, it cannot look)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
    dfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    wfd = os.open("stdout.log", flags, 0o600, dir_fd=dfd)
    keeper = RunLogs(dfd, LogCap(max_bytes=1000, files=2))
    keeper.add("stdout.log", wfd)
    written = 0

    def write_lines(n: int) -> None:
        nonlocal written
        os.write(wfd, b"".join(b"%d\n" % (written + i) for i in range(n)))
        written += n

    looks = 0

    def copy_id() -> object:
        nonlocal looks
        looks += 1
        try:
            info = os.stat(tmp_path / "stdout.log.1")
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_mtime_ns

    truncate = os.ftruncate

    def truncate_once_looked_at(fd: int, length: int) -> None:
        looked = looks
        given_up = time.monotonic() + 1.0
        while looks < looked + 2 and time.monotonic() < given_up:
            time.sleep(0.01)
        truncate(fd, length)

    write_lines(100)
    rfd = os.open(tmp_path / "stdout.log", os.O_RDONLY)
    out: list[bytes] = []
    stop = threading.Event()
    at = Position.ending(rfd, os.fstat(rfd).st_size)
    follower = threading.Thread(
        target=runlogs.follow, args=(rfd, at, out.append, stop), kwargs={"copy_id": copy_id}
    )
    follower.start()
    try:
        write_lines(300)  # 1,090 bytes: past the cap
        monkeypatch.setattr(os, "ftruncate", truncate_once_looked_at)
        keeper.check()
        monkeypatch.undo()
        assert keeper.rotations == 1
        write_lines(50)
        given_up = time.monotonic() + 30
        while not b"".join(out).endswith(b"449\n") and time.monotonic() < given_up:
            time.sleep(0.01)
    finally:
        stop.set()
        follower.join()
        keeper.close()
        for fd in (rfd, wfd, dfd):
            os.close(fd)
    given = [int(line) for line in b"".join(out).splitlines()]
    assert given == sorted(set(given))  # in order, none twice
    assert given[-1] == 449


def test_the_last_lines_pass_over_holes_and_keep_zeros_that_were_written(tmp_path: Path) -> None:
    path = tmp_path / "stdout.log"
    with open(path, "wb") as f:
        f.write(b"\0\0first\n")  # zeros the run wrote are its output
        f.truncate(5 << 30)  # then 5 GiB never written (a hole: no disk)
        f.seek(0, os.SEEK_END)
        f.write(b"after\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert last_lines([(fd, os.fstat(fd).st_size)], 2) == b"\0\0first\nafter\n"
        assert last_lines([(fd, os.fstat(fd).st_size)], 1) == b"after\n"
    finally:
        os.close(fd)
