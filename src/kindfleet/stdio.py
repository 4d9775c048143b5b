"""A process started with stdout or stderr closed (`>&-`): Python makes the stream None, and
the first write, or a child started with that descriptor free, fails. Standard library
only: `kindfleet` and the spokes' `spokectl` both start with it."""

from __future__ import annotations

import os
import sys


def reopen_closed() -> None:
    """A closed stdout or stderr made /dev/null, descriptor and Python stream both: what
    is written there goes nowhere, as the caller asked, and fails nothing."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        to_devnull(fd)
        setattr(sys, name, open(fd, "w", encoding="utf-8", closefd=False))  # noqa: SIM115


def to_devnull(fd: int) -> None:
    """Descriptor `fd` pointed at /dev/null (opened, if it was closed): its writers, this
    process's and its children's, write nowhere and fail nothing."""
    quiet = os.open(os.devnull, os.O_WRONLY)  # the lowest free: `fd` itself, if closed
    if quiet != fd:
        os.dup2(quiet, fd)
        os.close(quiet)
