"""`python -m kindfleet.platform.agent.spokectl`: what someone on the spoke may ask of an
agent's state directory without the hub: a run's log, and cleaning up after a dead agent.

It is how the fleet's tools reach a spoke's data on the local runtime (logs never travel
through the hub), so they need not know how the agent lays out its directory. A run
controls the files in its own directory, so a log is opened relative to directory
descriptors that refuse symlinks at every step, and only a regular file is read: a run
that replaced its log by a link to a secret gets an error, not the secret.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from kindfleet.platform.agent.rundirs import RUNS, run_key

STREAMS = ("stdout", "stderr")
_NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class NotThere(Exception):
    """The run, or its log, is not in the state directory (or is not a plain file)."""


def open_log(state_dir: Path, workload: str, generation: int, stream: str) -> int:
    """A read-only descriptor of the run's log; `NotThere` for anything but a plain file
    inside the run's own directory."""
    if stream not in STREAMS:
        raise NotThere(f"no stream {stream!r} (stdout or stderr)")
    fds: list[int] = []
    try:
        fds.append(os.open(state_dir, _NOFOLLOW_DIR))
        for name in (RUNS, run_key(workload, generation)):
            fds.append(os.open(name, _NOFOLLOW_DIR, dir_fd=fds[-1]))
        fd = os.open(f"{stream}.log", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fds[-1])
    except FileNotFoundError:
        raise NotThere(f"no {stream} log for {workload} attempt {generation} here") from None
    except OSError as exc:  # ELOOP, ENOTDIR: a link or something else where a file belongs
        raise NotThere(f"the {stream} log of {workload} attempt {generation} is not a plain "
                       f"file in its run directory ({exc.strerror})") from None  # fmt: skip
    finally:
        for opened in fds:
            os.close(opened)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotThere(f"the {stream} log of {workload} attempt {generation} is not a file")
    return fd


def copy_log(fd: int, out: int) -> None:
    with os.fdopen(fd, "rb") as source:
        while chunk := source.read(1 << 16):
            os.write(out, chunk)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kindfleet.platform.agent.spokectl")
    verbs = parser.add_subparsers(dest="verb", required=True)
    logs = verbs.add_parser("logs", help="print a run's log")
    logs.add_argument("--state-dir", type=Path, required=True)
    logs.add_argument("--workload", required=True)
    logs.add_argument("--generation", type=int, required=True)
    logs.add_argument("--stream", choices=STREAMS, default="stdout")
    reap = verbs.add_parser("reap", help="kill what is left of a dead agent's runs")
    reap.add_argument("--state-dir", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.verb == "logs":
        try:
            fd = open_log(args.state_dir, args.workload, args.generation, args.stream)
        except NotThere as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        copy_log(fd, sys.stdout.fileno())
        return 0
    from kindfleet.platform.agent.orphans import kill_orphans

    for pid in kill_orphans(args.state_dir):
        print(pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
