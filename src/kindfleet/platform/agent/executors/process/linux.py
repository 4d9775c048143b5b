"""The two process controls of Linux the launcher is built on, through prctl(2):

- the death signal (PR_SET_PDEATHSIG): the kernel signals a process the moment its parent
  dies, however it dies (kill -9 included). It is tied to the parent *thread* and cleared
  by fork, so each link of agent -> launcher -> keeper sets its own, and checks that its
  parent did not die before it was set;
- the child subreaper (PR_SET_CHILD_SUBREAPER): orphans below a process are reparented to
  it instead of to init, so a keeper still owns what its run left behind after a double
  fork and `setsid`.

Elsewhere (no prctl) both are no-ops that report False. Standard library only.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_prctl = None
if sys.platform == "linux":
    _prctl = ctypes.CDLL(None, use_errno=True).prctl


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
