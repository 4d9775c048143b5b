"""What the agent reads of a run's stdout for metric lines: only what was appended, whole
lines, and, after the keeper emptied a rotated log, the new lines from its start."""

from __future__ import annotations

import os
from pathlib import Path

from kindfleet.platform.agent.executors.process.tails import FileTail


def test_only_whole_new_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "stdout.log"
    path.write_text("one\ntw")
    tail = FileTail(str(path))
    assert tail.read() == ["one"]
    assert tail.read() == []
    with path.open("a") as f:
        f.write("o\nthree\n")
    assert tail.read() == ["two", "three"]


def test_a_log_emptied_by_a_rotation_is_read_again_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "stdout.log"
    path.write_text("".join(f"line {i}\n" for i in range(100)) + "half")
    tail = FileTail(str(path))
    assert len(tail.read()) == 100
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.ftruncate(fd, 0)  # as the keeper empties it
        os.write(fd, b"metric loss=0.5\n")
    finally:
        os.close(fd)
    assert tail.read() == ["metric loss=0.5"]  # not "halfmetric ...", not nothing


def test_a_log_emptied_and_grown_back_past_the_offset_is_read_from_its_start(tmp_path: Path):
    path = tmp_path / "stdout.log"
    path.write_text("".join(f"old {i}\n" for i in range(10)))
    tail = FileTail(str(path))
    assert len(tail.read()) == 10
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.ftruncate(fd, 0)  # emptied by a rotation, then more written before the next read
        os.write(fd, b"".join(b"new %d\n" % i for i in range(20)))
    finally:
        os.close(fd)
    assert tail.read() == [f"new {i}" for i in range(20)]


def test_a_hole_left_by_a_writer_that_does_not_append_is_skipped(tmp_path: Path):
    path = tmp_path / "stdout.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)  # as open('/dev/stdout', 'w')
    try:
        os.write(fd, b"line\n" * 20_000)
        tail = FileTail(str(path))
        assert len(tail.read()) == 20_000
        os.ftruncate(fd, 0)  # the keeper empties it; the writer goes on at its own offset
        os.write(fd, b"metric loss=0.1\n")
        assert tail.read() == ["metric loss=0.1"]
        assert tail.offset == path.stat().st_size
    finally:
        os.close(fd)


def test_a_run_directory_swapped_for_a_link_is_still_read_where_it_was(tmp_path: Path) -> None:
    """Found from outside: a run that moved its directory away and put a link to another
    directory in its place had the agent read the files there, and what parsed as metrics
    reached the hub. The tail reads through the run directory's own descriptor."""
    run, outside = tmp_path / "run", tmp_path / "outside"
    run.mkdir()
    outside.mkdir()
    (run / "stdout.log").write_text("mine 1\n")
    (outside / "stdout.log").write_text("theirs 2\n")
    fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
    try:
        tail = FileTail("stdout.log", fd)
        run.rename(tmp_path / "moved")
        run.symlink_to(outside)
        assert tail.read() == ["mine 1"]
    finally:
        os.close(fd)


def test_a_log_that_is_another_files_second_name_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside_metric 31337\n")
    (tmp_path / "run").mkdir()
    os.link(secret, tmp_path / "run" / "stdout.log")  # a hard link: the same file
    assert FileTail(str(tmp_path / "run" / "stdout.log")).read() == []
