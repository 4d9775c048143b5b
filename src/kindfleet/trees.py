"""Removing a directory tree that a workload wrote: a run's directory on a spoke, a local
fleet's whole state directory at `down`.

shutil.rmtree follows no link inside the tree, but a run can leave what it cannot remove:
a directory read-only to its own user (a Go module cache is 0555) or unreadable (0) keeps
its entries from anyone but root, and a tree nested a few thousand levels deep makes
rmtree recurse past Python's limit and raise RecursionError, which `ignore_errors` does
not cover. What rmtree leaves is removed bottom-up, holding one directory descriptor at a
time and walking back up by '..' (no recursion, no path that grows with the depth), each
directory made its owner's before it is opened. The workload is over: nothing moves its
tree meanwhile. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import shutil

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OWNERS = 0o700


def remove(top: str | os.PathLike[str]) -> None:
    """Remove `top` and all below it, as far as this user may; what is left stays."""
    with contextlib.suppress(RecursionError):  # deeper than rmtree goes: the walk below
        shutil.rmtree(top, ignore_errors=True)
    if os.path.lexists(top):
        _bottom_up(os.fspath(top))


def _bottom_up(top: str) -> None:
    try:
        os.chmod(top, _OWNERS)  # as each directory below, before it is opened
        fd = os.open(top, _DIR)
    except OSError:
        return
    names: list[str] = []  # from `top` down to where `fd` is
    try:
        while True:
            child = _empty_but_one(fd)
            if child is not None:
                os.chmod(child, _OWNERS, dir_fd=fd)  # read-only or sealed by the workload
                inner = os.open(child, _DIR, dir_fd=fd)
                os.close(fd)
                fd = inner
                names.append(child)
            elif names:
                outer = os.open("..", _DIR, dir_fd=fd)
                os.close(fd)
                fd = outer
                os.rmdir(names.pop(), dir_fd=fd)
            else:
                break
    except OSError:
        pass  # what is left stays
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(top)


def _empty_but_one(fd: int) -> str | None:
    """Unlink what is not a directory in `fd`'s directory; the name of a subdirectory left."""
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            os.unlink(entry.name, dir_fd=fd)
    return None
