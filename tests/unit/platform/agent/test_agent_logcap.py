"""A run's log kept to its cap (logcap.py): when to look again, what a rotation keeps, what
it does when it cannot keep a copy. Real files in a temporary directory, written through an
O_APPEND descriptor as a run's stdout is."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindfleet.platform.agent.executors.process import rotationlock
from kindfleet.platform.agent.executors.process.logcap import LogCap, RunLogs, kept_from
from kindfleet.platform.agent.executors.process.pace import MAX_WAIT, MIN_WAIT, next_wait


@given(
    room=st.integers(min_value=-(2**20), max_value=2**30),
    grown=st.integers(min_value=-(2**20), max_value=2**30),
    waited=st.floats(min_value=0, max_value=3600, allow_nan=False),
)
def test_the_next_look_is_always_within_its_bounds(room: int, grown: int, waited: float) -> None:
    assert MIN_WAIT <= next_wait(room, grown, waited) <= MAX_WAIT


def test_a_faster_growing_file_is_looked_at_sooner() -> None:
    slow = next_wait(room=8 << 20, grown=1 << 20, waited=1.0)
    fast = next_wait(room=8 << 20, grown=4 << 20, waited=1.0)
    assert fast < slow
    assert next_wait(room=8 << 20, grown=0, waited=1.0) == MAX_WAIT  # quiet
    assert next_wait(room=0, grown=1, waited=1.0) == MIN_WAIT  # at its cap already


def test_a_copy_keeps_the_newest_part() -> None:
    assert kept_from(size=500, max_bytes=1000) == 0
    assert kept_from(size=5000, max_bytes=1000) == 4000


class Run:
    """A run's directory with one log, written as a run writes it."""

    def __init__(self, root: Path, cap: LogCap) -> None:
        self.dir = root
        self.dfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        self.fd = os.open("stdout.log", flags, 0o600, dir_fd=self.dfd)
        self.logs = RunLogs(self.dfd, cap)
        self.logs.add("stdout.log", self.fd)
        self.written = 0

    def write_lines(self, n: int) -> None:
        os.write(self.fd, "".join(f"{self.written + i}\n" for i in range(n)).encode())
        self.written += n

    def lines(self, name: str) -> list[int]:
        return [int(line) for line in (self.dir / name).read_text().splitlines()]

    def close(self) -> None:
        self.logs.close()
        os.close(self.fd)
        os.close(self.dfd)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    r = Run(tmp_path, LogCap(max_bytes=1000, files=3))
    yield r
    r.close()


def test_a_log_under_its_cap_is_left_alone(run: Run) -> None:
    run.write_lines(100)  # 290 bytes
    run.logs.check()
    assert run.lines("stdout.log") == list(range(100))
    assert not (run.dir / "stdout.log.1").exists()
    assert run.logs.rotations == 0


def test_a_log_past_its_cap_keeps_its_newest_whole_lines_and_the_run_goes_on(run: Run) -> None:
    run.write_lines(1000)  # 3,890 bytes
    run.logs.check()
    kept = run.lines("stdout.log.1")
    assert kept[-1] == 999  # the newest line
    assert kept == list(range(kept[0], 1000))  # whole lines, none missing, none cut
    assert (run.dir / "stdout.log.1").stat().st_size <= 1000
    assert (run.dir / "stdout.log").stat().st_size == 0
    run.write_lines(5)  # the run's descriptor appends at the start of the emptied file
    assert run.lines("stdout.log") == list(range(1000, 1005))


def test_older_copies_move_up_and_the_oldest_is_dropped(run: Run) -> None:
    newest = []
    for _ in range(4):
        run.write_lines(400)
        run.logs.check()
        newest.append(run.written - 1)
    assert run.lines("stdout.log.1")[-1] == newest[3]
    assert run.lines("stdout.log.2")[-1] == newest[2]
    assert not (run.dir / "stdout.log.3").exists()  # files=3: the log and two copies
    assert sorted(p.name for p in run.dir.iterdir()) == [
        "stdout.log",
        "stdout.log.1",
        "stdout.log.2",
    ]


def test_one_file_only_empties_the_log(tmp_path: Path) -> None:
    run = Run(tmp_path, LogCap(max_bytes=1000, files=1))
    try:
        run.write_lines(1000)
        run.logs.check()
        assert [p.name for p in tmp_path.iterdir()] == ["stdout.log"]
        assert (tmp_path / "stdout.log").stat().st_size == 0
    finally:
        run.close()


def test_a_copy_that_cannot_be_made_still_empties_the_log(run: Run) -> None:
    """The run made `stdout.log.1` a directory (or the disk is full): no copy, but the log
    must still be emptied, which is what frees the disk; nothing is raised into the keeper."""
    for name in ("stdout.log.2", "stdout.log.1"):  # directories that cannot be moved
        (run.dir / name).mkdir()
        (run.dir / name / "x").write_text("")
    run.write_lines(1000)
    run.logs.check()
    assert (run.dir / "stdout.log").stat().st_size == 0
    assert (run.dir / "stdout.log.1").is_dir()  # no copy was made
    assert run.logs.rotations == 1


def test_a_log_the_run_renamed_is_still_the_one_capped(run: Run) -> None:
    os.rename(run.dir / "stdout.log", run.dir / "moved.log")
    run.write_lines(1000)
    run.logs.check()
    assert (run.dir / "moved.log").stat().st_size == 0  # the file the run writes


def test_a_fast_log_beside_a_quiet_one_is_looked_at_at_its_own_pace(tmp_path: Path) -> None:
    run = Run(tmp_path, LogCap(max_bytes=100_000, files=2))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
    err = os.open("stderr.log", flags, 0o600, dir_fd=run.dfd)
    run.logs.add("stderr.log", err)
    try:
        run.logs.check(now=100.0)
        quiet = run.logs.due - 100.0
        os.write(err, b"x" * 90_000)  # stderr nears its cap; stdout stays empty
        run.logs.check(now=101.0)
        # 10,000 bytes left at 90,000 a second: the next look within half of 0.11 s
        assert run.logs.due - run.logs.looked < min(quiet, 0.06)
    finally:
        os.close(err)
        run.close()


def test_a_writer_that_does_not_append_is_capped_by_what_it_writes_not_its_offset(
    tmp_path: Path,
) -> None:
    """open('/dev/stdout', 'w') in a run: after a truncation it writes on at its own offset,
    leaving a hole. Judged by its size, every look would rotate (copying a cap of zeros)."""
    dfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    fd = os.open("stdout.log", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dfd)
    logs = RunLogs(dfd, LogCap(max_bytes=100_000, files=2))
    logs.add("stdout.log", fd)
    try:
        os.write(fd, b"line\n" * 30_000)  # 150,000 bytes, at the writer's own offset
        logs.check(now=1.0)
        assert logs.rotations == 1
        os.write(fd, b"after\n")  # at offset 150,000: a hole before it
        for t in (2.0, 3.0, 4.0):
            logs.check(now=t)
        assert logs.rotations == 1  # 6 bytes written is not past the cap
        copy = (tmp_path / "stdout.log.1").read_bytes()
        assert copy.startswith(b"line\n") and b"\0" not in copy
    finally:
        logs.close()
        os.close(fd)
        os.close(dfd)


def test_at_the_end_a_log_past_its_cap_keeps_its_newest_part_itself(run: Run) -> None:
    """So `kindfleet logs` shows how the run ended (its traceback), and the agent's last
    sample finds its last metric line."""
    run.write_lines(400)
    run.logs.check()  # one rotation while it ran
    run.write_lines(1000)
    run.logs.finish()
    kept = run.lines("stdout.log")
    assert kept[-1] == 1399
    assert kept == list(range(kept[0], 1400))
    assert (run.dir / "stdout.log").stat().st_size <= 1000
    assert run.lines("stdout.log.1")[-1] == 399  # the copy made while it ran, untouched


def test_at_the_end_a_log_the_run_moved_is_only_emptied(run: Run) -> None:
    run.write_lines(1000)
    os.rename(run.dir / "stdout.log", run.dir / "moved.log")
    run.logs.finish()
    assert (run.dir / "moved.log").stat().st_size == 0
    assert not (run.dir / "stdout.log").exists()


def test_after_a_slow_rotation_a_fast_writer_keeps_its_fast_pace(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found from outside (`yes` against a 10Mi cap): copying and truncating a file of
    gigabytes took half a second; the next look was timed from the start of that one, so it
    was due at once, found the file just emptied, took the run for quiet and waited 2 s,
    while `yes` wrote another 1.5 GB. The next look is timed from the end of a rotation."""
    rotate = RunLogs._rotate

    def slow(self: RunLogs, f: object, size: int) -> None:
        rotate(self, f, size)  # type: ignore[arg-type]
        time.sleep(0.3)  # as a truncation of gigabytes takes

    monkeypatch.setattr(RunLogs, "_rotate", slow)
    run.logs.check()  # the first look: quiet
    run.write_lines(5000)  # then a burst, far past the cap
    run.logs.check()
    assert run.logs.rotations == 1
    assert run.logs.due > time.monotonic()  # not due before the rotation even ended
    while (left := run.logs.due - time.monotonic()) > 0:
        time.sleep(left)
        run.write_lines(300)  # the run writes on, fast, until the next look
    run.logs.check()
    assert run.logs.rotations == 2
    assert run.logs.due - time.monotonic() <= MIN_WAIT  # still looked at at the fast pace


def test_room_taken_past_the_end_of_a_log_counts_against_its_cap(run: Run) -> None:
    """Found from outside: `fallocate --keep-size -l 1G` on the run's own stdout left the
    size 0 and a gigabyte held on the state disk, which the cap never saw."""
    try:
        os.posix_fallocate(run.fd, 0, 1)  # the file system can preallocate at all
    except OSError:
        pytest.skip("no preallocation on this file system")
    os.ftruncate(run.fd, 0)
    libc = ctypes.CDLL(None, use_errno=True)  # fallocate(2): Python has only posix_fallocate
    keep_size = 1
    if libc.fallocate(run.fd, keep_size, ctypes.c_long(0), ctypes.c_long(4 << 20)) != 0:
        pytest.skip("no fallocate --keep-size here")
    assert os.fstat(run.fd).st_size == 0 and os.fstat(run.fd).st_blocks * 512 >= 4 << 20
    run.logs.check()
    assert run.logs.rotations == 1
    assert os.fstat(run.fd).st_blocks * 512 < 1 << 20  # the room is given back


def test_a_rotation_waits_for_a_follower_looking_and_not_past_twice_the_cap(run: Run) -> None:
    """A follower mid-look holds the rotation lock (rotationlock.py): the keeper puts the
    rotation off to a look soon after, unless the log is at twice its cap (the disk first)."""
    reader = os.open(run.dir / "stdout.log", os.O_RDONLY)
    try:
        run.write_lines(300)  # 1,090 bytes: past the cap, under twice it
        with rotationlock.looking(reader, threading.Event()) as locked:
            assert locked
            started = time.monotonic()
            run.logs.check(started)
            assert run.logs.rotations == 0
            assert not (run.dir / "stdout.log.1").exists()
            assert run.logs.due <= time.monotonic() + MIN_WAIT  # looked at again soon
            run.write_lines(300)  # 2,290 bytes: past twice the cap
            run.logs.check()
            assert run.logs.rotations == 1  # rotated without the lock
        run.write_lines(400)
        run.logs.check()  # let go: rotated at once
        assert run.logs.rotations == 2
        assert run.lines("stdout.log.1")[-1] == 999
    finally:
        os.close(reader)


def test_followers_taking_turns_do_not_keep_the_keeper_out(run: Run) -> None:
    """Followers whose looks overlap (each one's next look begins before another's ends)
    held the read lock between them all the time: the keeper never got it, and rotated
    unlocked at twice the cap, where a follower sees half a rotation. The turnstile lets
    no new look begin while the keeper waits."""
    readers = [os.open(run.dir / "stdout.log", os.O_RDONLY) for _ in range(2)]
    stop = threading.Event()

    def take_turns() -> None:
        held: contextlib.ExitStack | None = None
        for fd in itertools.cycle(readers):
            if stop.is_set():
                break
            look = contextlib.ExitStack()
            look.enter_context(rotationlock.looking(fd, stop, patience=0.005))
            if held is not None:
                held.close()  # only once the next look has begun (or could not)
            held = look
        if held is not None:
            held.close()

    followers = threading.Thread(target=take_turns)
    followers.start()
    try:
        run.write_lines(300)  # 1,090 bytes: past the cap, under twice it
        for _ in range(5):
            run.logs.check()
            if run.logs.rotations:
                break
        assert run.logs.rotations == 1
        assert run.lines("stdout.log.1")[-1] == 299
    finally:
        stop.set()
        followers.join()
        for fd in readers:
            os.close(fd)
