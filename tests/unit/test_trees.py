"""Removing a tree a workload wrote, as its own user would: what a run made read-only or
unreadable, and a tree deeper than shutil.rmtree goes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from kindfleet import trees

NOBODY = 65534


def _removed_as_the_agents_own_user(top: Path) -> bool:
    """`trees.remove(top)` in a forked child that drops to an unprivileged user when the
    suite runs as root (root is refused nothing); whether `top` is gone after."""
    pid = os.fork()
    if pid == 0:  # the child: nothing but the removal, then out
        code = 2
        try:
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            trees.remove(str(top))
            code = 1 if os.path.lexists(top) else 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0 and not top.exists()


def _owned(path: Path | str, dir_fd: int | None = None) -> None:
    """Given to the unprivileged user the removal runs as (when the suite runs as root)."""
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY, dir_fd=dir_fd)


def test_what_a_run_made_read_only_or_unreadable_is_removed_all_the_same():
    base = Path(tempfile.mkdtemp(prefix="kf-prune-"))
    try:
        top = base / "w1-g1"
        cache = top / "outputs" / "mod"  # read-only, as Go's module cache
        cache.mkdir(parents=True)
        (cache / "go.mod").write_text("module x\n")
        sealed = top / "outputs" / "sealed" / "deeper"  # unreadable, twice over
        sealed.mkdir(parents=True)
        (sealed / "data").write_text("x")
        for path in [base, *base.rglob("*")]:
            _owned(path)
        cache.chmod(0o555)
        sealed.chmod(0)
        sealed.parent.chmod(0)
        assert _removed_as_the_agents_own_user(top)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_tree_deeper_than_rmtree_goes_is_removed_too():
    """Thousands of nested directories (rmtree recursed past Python's limit and raised),
    with files on every level, one level read-only and one unreadable."""
    base = Path(tempfile.mkdtemp(prefix="kf-prune-"))
    try:
        top = base / "w1-g1"
        top.mkdir()
        _owned(base)
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        _owned(top)
        for level in range(3000):
            os.close(os.open("file", os.O_CREAT | os.O_WRONLY, 0o400, dir_fd=fd))
            os.mkdir("d", dir_fd=fd)
            _owned("file", fd)
            _owned("d", fd)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            if level in (1000, 2000):
                os.fchmod(fd, 0o555 if level == 1000 else 0)
            os.close(fd)
            fd = inner
        os.close(fd)
        assert _removed_as_the_agents_own_user(top)
    finally:
        trees.remove(str(base))  # rmtree alone would raise on what a failure left
