"""`python -m kindfleet.platform.agent.spokectl`: what tools outside the agent may do with a
spoke's state directory, as a command line rather than an import of the agent's insides.
The fleet's local provider calls it for `kindfleet logs` and `kindfleet down`.

    spokectl logs --state-dir DIR --workload ID --generation N [--stream stdout|stderr]
            [--tail N] [--follow [--until-eof]]
        The run's raw log on stdout (exit 0): its newest rotated copy, then the log; the
        last N lines only; then what the run writes, until SIGTERM or SIGINT (with
        --until-eof: until stdin ends). A run or log that does not exist, or a log that is
        not a plain file of the run's own: one line on stderr, exit 2.
    spokectl reap --state-dir DIR
        Kill what is left of the runs of an agent that is dead and will not be restarted;
        the pids killed on stdout, one per line. Does nothing while a live agent holds DIR.
    spokectl forget-hub --state-dir DIR
        Forget the hub this spoke joined (its store's id and the spoke's credential), so
        that the agent joins a new hub, on a new store, with a new join token. Only for a
        hub that is gone on purpose: a spoke that remembers its hub's store is refused by a
        hub that lost it, which is what keeps a lost store from going unnoticed. Refused
        (exit 1) while a live agent holds DIR.

A run writes into its own directory and may replace its log by anything: a symlink to the
client token, a FIFO that would block the reader, a hard link to another file. So the log
is opened relative to directory descriptors, never through a symlink (O_NOFOLLOW at every
step), without blocking (O_NONBLOCK), and read only if it is a regular file with a single
link, owned by this user.

Standard library only, and a handful of the agent's own small modules: this starts on every
`kindfleet logs`, and must not load the agent's HTTP and model stack to print a file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import stat
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from kindfleet.platform.agent import paths
from kindfleet.stdio import reopen_closed

EXIT_OK, EXIT_FAILED, EXIT_NOT_FOUND = 0, 1, 2
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# How long `logs` waits for a rotation under way to end before it gives the log out as it is
# (a rotation takes milliseconds; only a run that holds the rotation lock's byte is longer).
DUMP_PATIENCE = 5.0


class NotFound(Exception):
    """The run or its log is not there (or not something this command will read)."""


def open_log(
    state_dir: Path, workload: str, generation: int, stream: str, *, copy: bool = False
) -> int:
    """A descriptor of the run's log (`copy`: of its newest rotated copy), read-only;
    NotFound with a one-line reason."""
    key = paths.run_key(workload, generation)
    where = f"workload {workload} generation {generation}"
    try:
        top = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise NotFound(f"cannot open the state directory {state_dir}: {exc.strerror}") from None
    fds = [top]
    try:
        fds.append(_open(paths.RUNS, _DIR, fds[-1], f"no runs in {state_dir}"))
        gone = (
            f"no run of {where} in {state_dir} (a run's directory, logs included, is removed "
            "once it has ended and not changed for the agent's --run-retention-seconds, a day "
            "unless set)"
        )
        fds.append(_open(key, _DIR, fds[-1], gone))
        name = paths.LOG_OF_STREAM[stream] + (".1" if copy else "")
        fd = _open(name, _FILE, fds[-1], f"no {stream} log for {where}")
    finally:
        for opened in fds:
            os.close(opened)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_uid != os.geteuid():
        os.close(fd)
        raise NotFound(f"the {stream} log of {where} is not a plain file of its run: not read")
    os.set_blocking(fd, True)
    return fd


def _open(name: str, flags: int, dir_fd: int, missing: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise NotFound(missing) from None
    except OSError as exc:  # ELOOP / ENOTDIR: a symlink or something else where it should not be
        raise NotFound(f"{missing}: {exc.strerror}") from None


def copy_out(fd: int, out: int, end: int, offset: int = 0) -> None:
    """The file of `fd` from `offset` up to `end` (where it ended when it was looked at),
    without its holes: a run that writes without O_APPEND goes on at its own offset after
    a rotation, and the megabytes before it, never written, were given out as zeros."""
    from kindfleet.platform.agent.executors.process.tails import Position

    at = Position(offset)
    while at.offset < end:
        before = at.offset
        data, _ = at.read(fd, 1 << 16, end)
        write_out(data, out)
        if at.offset == before:
            return


def write_out(data: bytes, out: int) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(out, view) :]


def logs(args: argparse.Namespace) -> int:
    """The log's newest rotated copy (logcap.py), when there is one, then the log: a run
    whose log was rotated just before it ended still shows how it ended. `--tail N`: only
    the last N lines; `--follow`: then what the run writes, until SIGTERM or SIGINT (or,
    with `--until-eof`, the end of stdin: how kindfleet says the run has ended)."""
    from kindfleet.platform.agent import runlogs
    from kindfleet.platform.agent.executors.process import rotationlock
    from kindfleet.platform.agent.executors.process.tails import Position

    stop = threading.Event()
    if args.follow:  # before anything else: a stop asked for at once is not a kill
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if args.until_eof:
            threading.Thread(target=_set_at_eof, args=(stop,), daemon=True).start()
    where = (args.state_dir, args.workload, args.generation, args.stream)
    fd = open_log(*where)
    fds = [fd]
    try:
        # The copy and the log as they were at one moment, not half way through a rotation.
        with rotationlock.looking(fd, stop, patience=DUMP_PATIENCE):
            with contextlib.suppress(NotFound):
                fds.insert(0, open_log(*where, copy=True))
            ends = [os.fstat(f).st_size for f in fds]
            given = Position.ending(fd, ends[-1])  # what the dump below gives out of the log
            seen = _copy_id(where)
        out = sys.stdout.fileno()
        if args.tail is not None:
            write_out(runlogs.last_lines(list(zip(fds, ends, strict=True)), args.tail), out)
        else:
            for f, end in zip(fds, ends, strict=True):
                start = max(0, end - runlogs.READ_MAX)
                if start:
                    print(
                        f"spokectl: {args.stream}: {end} bytes, past any capped log: only its "
                        f"last {runlogs.READ_MAX >> 20} MiB are given out",
                        file=sys.stderr,
                    )
                copy_out(f, out, end, start)
        if args.follow:
            runlogs.follow(
                fd, given, lambda data: write_out(data, out), stop,
                copy_id=lambda: _copy_id(where), seen=seen,
            )  # fmt: skip
    finally:
        for f in fds:
            os.close(f)
    return EXIT_OK


def _set_at_eof(stop: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while os.read(sys.stdin.fileno(), 4096):
            pass
    stop.set()


def _copy_id(where: tuple[Path, str, int, str]) -> tuple[int, int] | None:
    """Which file the newest rotated copy is (a rotation makes a new one), or None."""
    try:
        fd = open_log(*where, copy=True)
    except NotFound:
        return None
    try:
        info = os.fstat(fd)
        return info.st_ino, info.st_mtime_ns
    finally:
        os.close(fd)


def reap(args: argparse.Namespace) -> int:
    from kindfleet.platform.agent.executors.process import reaper
    from kindfleet.platform.agent.lock import StateLock

    if not args.state_dir.is_dir():
        raise NotFound(f"no state directory {args.state_dir}")
    lock = StateLock(args.state_dir)
    if not lock.try_acquire():
        print(f"an agent is running with {args.state_dir}: its runs are its own", file=sys.stderr)
        return EXIT_OK
    try:
        killed = reaper.reap(args.state_dir)
    finally:
        lock.release()
    sys.stdout.write("".join(f"{pid}\n" for pid in killed))
    return EXIT_OK


def forget_hub(args: argparse.Namespace) -> int:
    from kindfleet.platform.agent.lock import StateLock

    if not args.state_dir.is_dir():
        raise NotFound(f"no state directory {args.state_dir}")
    lock = StateLock(args.state_dir)
    if not lock.try_acquire():
        print(
            f"an agent is running with {args.state_dir}: stop it first, then forget its hub",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        names = (paths.HUB_STORE, paths.CREDENTIAL, paths.CREDENTIAL + ".offered")
        forgotten = [name for name in names if (args.state_dir / name).exists()]
        for name in forgotten:
            (args.state_dir / name).unlink()
    finally:
        lock.release()
    print(f"forgot {', '.join(forgotten) or 'nothing (no hub remembered)'} in {args.state_dir}")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kindfleet.platform.agent.spokectl",
        description="A spoke's state directory, for tools outside the agent.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    log = commands.add_parser(
        "logs", help="print a run's raw log (after its newest rotated copy, if any)"
    )
    log.add_argument("--state-dir", type=Path, required=True)
    log.add_argument("--workload", required=True)
    log.add_argument("--generation", type=int, required=True)
    log.add_argument("--stream", choices=sorted(paths.LOG_OF_STREAM), default="stdout")
    log.add_argument("--tail", type=int, default=None, metavar="N", help="the last N lines")
    log.add_argument("--follow", action="store_true", help="then what the run writes")
    log.add_argument("--until-eof", action="store_true", help="with --follow: stop when stdin ends")
    log.set_defaults(run=logs)
    cleanup = commands.add_parser("reap", help="kill what a dead agent's runs left")
    cleanup.add_argument("--state-dir", type=Path, required=True)
    cleanup.set_defaults(run=reap)
    forget = commands.add_parser(
        "forget-hub", help="forget the hub this spoke joined (for a new hub, on purpose)"
    )
    forget.add_argument("--state-dir", type=Path, required=True)
    forget.set_defaults(run=forget_hub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    reopen_closed()  # `kindfleet logs ID --follow >&-`: nothing to write to is not an error
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except NotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except BrokenPipeError:  # `spokectl logs ... | head`
        return EXIT_OK
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
