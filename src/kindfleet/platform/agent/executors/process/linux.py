"""The calls of Linux the launcher and its keepers are built on. Two process controls,
through prctl(2):

- the death signal (PR_SET_PDEATHSIG): the kernel signals a process the moment its parent
  dies, however it dies (kill -9 included). It is tied to the parent *thread* and cleared
  by fork, so each link of agent -> launcher -> keeper sets its own, and checks that its
  parent did not die before it was set;
- the child subreaper (PR_SET_CHILD_SUBREAPER): orphans below a process are reparented to
  it instead of to init, so a keeper still owns what its run left behind after a double
  fork and `setsid`.

And one file call, fallocate(2)'s FALLOC_FL_COLLAPSE_RANGE (ext4, XFS): the head of a
file removed in place while a run appends to it, nothing it writes meanwhile lost (see
logcap.py).

Elsewhere (no prctl, no fallocate) they are no-ops that report False. Standard library
only.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
FALLOC_FL_COLLAPSE_RANGE = 0x08

_prctl = None
_fallocate = None
if sys.platform == "linux":
    _libc = ctypes.CDLL(None, use_errno=True)
    _prctl = _libc.prctl
    _fallocate = _libc.fallocate
    _fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)


def die_with_parent(sig: signal.Signals, parent: int) -> bool:
    """Be sent `sig` when the parent dies; exit at once if it already has (the death signal
    would never come). False where the kernel has no death signal."""
    if _prctl is None:
        return False
    _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)
    return True


def become_subreaper() -> bool:
    return _prctl is not None and _prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def collapse_head(fd: int, length: int) -> bool:
    """Remove the first `length` bytes of the file (a multiple of its block size, short of
    its end): what follows moves to the start, and an appending writer goes on at the new
    end. False where the file system cannot (tmpfs, and most but ext4 and XFS)."""
    if _fallocate is None or length <= 0:
        return False
    return int(_fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, length)) == 0
