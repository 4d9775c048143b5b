"""One error family for the whole package, so the CLI can turn any failure into one clear
line and an exit code, and library callers can catch by meaning rather than by message.

Exit codes are part of the interface (scripts and CI branch on them):
0 ok, 1 an operation failed, 2 bad input (fleet file, argument, payload),
3 a prerequisite is missing (Docker, kind, kubectl, a free port), 4 partly done
(some clusters failed while others succeeded), 130 interrupted.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_PREREQUISITE = 3
EXIT_PARTIAL = 4
EXIT_INTERRUPTED = 130


class KindfleetError(Exception):
    """Base of every error kindfleet raises on purpose; `hint` says what to do next."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(KindfleetError):
    """A bad command-line argument or API argument."""

    exit_code = EXIT_BAD_INPUT


class PrerequisiteError(KindfleetError):
    """Something outside kindfleet is missing: Docker, kind, kubectl, memory, a port."""

    exit_code = EXIT_PREREQUISITE


class PartialFailure(KindfleetError):
    """Some units of a parallel operation failed; `failed` names them."""

    exit_code = EXIT_PARTIAL

    def __init__(self, message: str, *, failed: dict[str, str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.failed = failed


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a fleet file: where it is, what is wrong, how to fix it."""

    path: str
    message: str
    fix: str | None = None

    def render(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} ({self.fix})" if self.fix else text


@dataclass(frozen=True)
class MoreProblems(Problem):
    """Problems found and not made into messages (past the first hundred, each would cost
    a "did you mean"): how many."""

    count: int = 0

    def render(self) -> str:
        return f"... and {self.count} more problems like these"


def more_problems(count: int) -> MoreProblems:
    return MoreProblems("", "", None, count)


MAX_SHOWN = 100  # a file with 100,000 unknown keys is one mistake, not a report to read


class ProblemsError(KindfleetError):
    """An input file is invalid; every problem found is reported at once, each with its
    path: the first hundred, and how many more."""

    exit_code = EXIT_BAD_INPUT
    what = "input"
    fix = "fix the fields named above"

    def __init__(self, problems: list[Problem], *, source: str | None = None) -> None:
        unique = list(dict.fromkeys(problems))  # the same problem once, in order
        self.problems = [p for p in unique if not isinstance(p, MoreProblems)]
        self.count = len(self.problems) + sum(
            p.count for p in unique if isinstance(p, MoreProblems)
        )
        self.source = source
        head = f"{source} is not a valid {self.what}" if source else f"invalid {self.what}"
        noun = "problem" if self.count == 1 else "problems"
        lines = [f"{head} ({self.count:,} {noun}):"]
        lines += [f"  - {p.render()}" for p in self.problems[:MAX_SHOWN]]
        if self.count > MAX_SHOWN:
            lines.append(f"  - {more_problems(self.count - MAX_SHOWN).render()}")
        super().__init__("\n".join(lines), hint=self.fix)


class SpecError(ProblemsError):
    """A fleet file is invalid."""

    what = "fleet file"
    fix = "fix the fields named above, then run `kindfleet validate`"


class WorkloadSpecError(ProblemsError):
    """A workload (from a file, flags or a Python mapping) is invalid."""

    what = "workload"
    fix = "fix the fields named above; `kindfleet submit --help` shows a workload's fields"


# What the machine refuses, not what kindfleet got wrong: a full disk, a read-only or
# forbidden path, too many open files. Each names the path where the OS gave one
# ({disk}: the disk of that path, {path}: the path).
_MACHINE: dict[int, tuple[str, str]] = {
    errno.ENOSPC: (
        "no space left on {disk}",
        "free space there and run the command again (a fleet's state is kept under "
        "$KINDFLEET_STATE_DIR: point it at a disk with room)",
    ),
    errno.EFBIG: (
        "{path} would grow past the largest file allowed here",
        "raise the limit (`ulimit -f`, or the file system's own) and run the command again",
    ),
    errno.EDQUOT: (
        "disk quota exceeded on {disk}",
        "free space within your quota and run the command again",
    ),
    errno.EROFS: (
        "{path} is on a read-only file system",
        "make it writable, or set $KINDFLEET_STATE_DIR to a writable directory",
    ),
    errno.EMFILE: (
        "too many open files",
        "raise the limit (`ulimit -n`) and run the command again",
    ),
    errno.ENFILE: (
        "too many open files on this machine",
        "close what holds them, or raise fs.file-max, and run the command again",
    ),
    errno.ENAMETOOLONG: (
        "a name is too long for the file system: {path}",
        "set $KINDFLEET_STATE_DIR to a shorter path (each name at most 255 bytes)",
    ),
}
_PATHS = {errno.EACCES, errno.EPERM}  # only about a path: without one, they may be ours
_IN_THE_WAY = {errno.EEXIST, errno.ENOTDIR}  # a directory to make or to pass through, a file
LOW_DISK = 1 << 20  # bytes free below which a disk is named as (nearly) full


def machine_error(exc: BaseException) -> PrerequisiteError | None:
    """`exc` as an error of the machine, with what to do, when it is one; else None.

    `up` on a full disk said "unexpected OSError: [Errno 28] No space left on device"
    (and the CLI called that a bug): the user needs the disk, and what to free."""
    if not isinstance(exc, OSError) or exc.errno is None:
        return None
    where = exc.filename if isinstance(exc.filename, str) else None
    if exc.errno in _PATHS and where:
        return PrerequisiteError(
            f"permission denied: {where}",
            hint="run as the user who owns it, or fix its permissions, and run again",
        )
    if exc.errno in _IN_THE_WAY and where:
        return PrerequisiteError(
            f"a file is in the way of {where}: kindfleet keeps a directory there",
            hint="move or remove that file (or what stands for a directory on the path to "
            "it), then run the command again",
        )
    if exc.errno not in _MACHINE:
        return None
    message, hint = _MACHINE[exc.errno]
    disk = f"the disk of {where}" if where else _state_disk()
    text = message.format(disk=disk, path=where or "a path kindfleet writes")
    return PrerequisiteError(text, hint=hint)


def _state_disk() -> str:
    """The OS named no path: a disk kindfleet was writing to, and the state's disk if that
    one is (nearly) full: it is what kindfleet writes to most."""
    import shutil

    from kindfleet.statedir import state_root

    root = state_root()
    probe = next((p for p in (root, *root.parents) if p.exists()), root)
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        free = None
    if free is not None and free < LOW_DISK:
        return f"the disk of {root} (the fleets' state; {free // 1024} KiB free)"
    return "a disk kindfleet was writing to"


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """An OSError of a write names no path (ENOSPC from write()): give it `path`, so the
    message names the file and its disk. A path that is a folder, or whose folder cannot
    be (/proc), is the user's to fix: said so (init and ci called it a bug)."""
    try:
        yield
    except IsADirectoryError:
        raise UsageError(
            f"{path} is a directory", hint="name a file to write (a path that ends in a name)"
        ) from None
    except FileNotFoundError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror}",
            hint="name a file in a folder that exists and can hold files",
        ) from None
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def unexpected(exc: BaseException) -> str:
    """One line for an exception nobody foresaw, in a report of many units (clusters,
    versions): the machine's trouble as such, anything else by its type."""
    known = machine_error(exc)
    if known is not None:
        return str(known)
    return f"unexpected {type(exc).__name__}: {exc}"
