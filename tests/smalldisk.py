"""A small disk of our own for the tests that fill one: a tmpfs of a few MB mounted under
the test's directory (root only; the test is skipped where mounting is not allowed), grown
by remounting, as an operator frees space."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(path: Path, size: str = "3m", inodes: int | None = None) -> Iterator[Path]:
    """`inodes`: how many files and directories it holds at most (tmpfs makes them without
    room for data: a disk short of inodes is how a new directory is refused)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir()
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def grow(path: Path, size: str = "64m") -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def fill(path: Path) -> None:
    """Write zeros into `path`/fill until the disk refuses (unbuffered: nothing is left to
    fail at close)."""
    with (path / "fill").open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def fill_inodes(path: Path) -> list[Path]:
    """Make empty files in `path`/inodes until the disk refuses one: what was made."""
    folder = path / "inodes"
    folder.mkdir()
    made: list[Path] = []
    try:
        while True:
            made.append(folder / str(len(made)))
            made[-1].touch(exist_ok=False)
    except OSError:
        made.pop()
    return made
