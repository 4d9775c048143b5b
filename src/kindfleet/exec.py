"""The one place kindfleet starts a process.

Every `kind`, `docker` and `kubectl` invocation is built elsewhere as a plain `Command`
value (argv, stdin, extra environment) by functions that do no I/O, so tests can assert
on it exactly. Running it happens here, through one injected `Runner`, so that timeouts,
Ctrl-C (every child is killed, with its own children) and failure reports are handled
once: a failure carries the command as a line you can paste into a shell, and its output.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Protocol

from kindfleet.errors import EXIT_INTERRUPTED, KindfleetError, PrerequisiteError

_INLINE_STDIN_LIMIT = 4096
_KILL_GRACE_SECONDS = 3.0
_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a function that makes the calling (child) process get SIGTERM when its
    parent dies: a `kind create` must not go on alone after kindfleet is `kill -9`'d (the
    next `up` would race it). Elsewhere, None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return die_with_parent


_DIE_WITH_PARENT = _parent_death_signal()


@dataclass(frozen=True)
class Command:
    """A process to run: what a test asserts on and what an error message shows."""

    argv: tuple[str, ...]
    stdin: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # added to the inherited environment
    timeout: float | None = None  # seconds; None: the runner's default

    @property
    def program(self) -> str:
        return self.argv[0]

    def shell(self) -> str:
        """The command as one line a person can paste into a shell."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items()))
        line = f"{env} {shlex.join(self.argv)}" if env else shlex.join(self.argv)
        if self.stdin is None:
            return line
        if len(self.stdin) <= _INLINE_STDIN_LIMIT and "\nEOF\n" not in f"\n{self.stdin}\n":
            body = self.stdin if self.stdin.endswith("\n") else self.stdin + "\n"
            return f"{line} <<'EOF'\n{body}EOF"
        return f"{line}  # with {len(self.stdin)} bytes on stdin"


def cmd(
    *argv: str,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Command:
    return Command(tuple(argv), stdin, dict(env or {}), timeout)


@dataclass(frozen=True)
class Result:
    command: Command
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        """stdout then stderr, as a person reading a terminal would have seen them."""
        parts = [p.rstrip("\n") for p in (self.stdout, self.stderr) if p.strip()]
        return "\n".join(parts)


def _tail(text: str, lines: int = 25) -> str:
    kept = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in kept)


class CommandError(KindfleetError):
    """A command exited non-zero; the message holds the command and what it printed."""

    def __init__(self, result: Result, *, what: str | None = None, hint: str | None = None) -> None:
        self.result = result
        self.command = result.command
        head = f"{what}: " if what else ""
        message = f"{head}`{result.command.shell()}` exited {result.returncode}"
        if result.output:
            message += f"\n{_tail(result.output)}"
        super().__init__(message, hint=hint)

    @property
    def output(self) -> str:
        return self.result.output


@contextlib.contextmanager
def failure_says(what: str, hint: str | None = None) -> Iterator[None]:
    """Name what a failing command was for: its CommandError gets `what` and `hint`.

    with failure_says(f"could not build {image}", hint="pass --image REF"):
        runner.run(build_cmd(...))
    """
    try:
        yield
    except CommandError as exc:
        raise CommandError(exc.result, what=what, hint=hint) from None


class CommandTimeout(CommandError):
    """A command ran longer than its timeout and was killed."""


class CommandNotFound(PrerequisiteError):
    """The program is not on PATH."""

    def __init__(self, command: Command, *, hint: str | None = None) -> None:
        self.command = command
        super().__init__(f"{command.program} not found on PATH", hint=hint)


class Interrupted(KindfleetError):
    """The run was interrupted (Ctrl-C); commands in flight were killed."""

    exit_code = EXIT_INTERRUPTED


class Runner(Protocol):
    def run(self, command: Command, *, check: bool = True) -> Result:
        """Run to completion; with `check`, a non-zero exit raises `CommandError`."""
        ...


def stream(
    command: Command, *, stop: Callable[[], bool] = lambda: False, stderr: IO[bytes] | None = None
) -> int:
    """Run `command` with this process's stdout (and stderr, unless given another file): a
    log followed for a person; without a timeout, until it exits or `stop()` says so (asked
    every second): then its stdin ends, which a follower takes as "give out what is left
    and exit" (a signal could come before it is ready for one). Its exit code. Ctrl-C
    kills it and its children, as `run` does."""
    env = {**os.environ, **command.env}
    try:
        proc = subprocess.Popen(
            list(command.argv),
            stdin=subprocess.PIPE,
            stderr=stderr,
            env=env,
            start_new_session=True,
            preexec_fn=_DIE_WITH_PARENT,  # noqa: PLW1509 (one prctl call, no Python state)
        )
    except FileNotFoundError:
        raise CommandNotFound(command) from None
    assert proc.stdin is not None
    try:
        while True:
            try:
                code = proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                if stop():
                    proc.stdin.close()
                continue
            # Killed by SIGPIPE: the reader of the stdout it shares with us went (`| head`),
            # which ends a follower as its own end does.
            return 0 if code == -signal.SIGPIPE else code
    except BaseException:
        ProcessRunner._kill(proc)
        raise
    finally:
        proc.stdin.close()


class ProcessRunner:
    """Runs commands as child processes, each in its own session so Ctrl-C is ours to handle.

    `interrupt()` kills every child in flight (and the processes they started) and makes
    further runs raise `Interrupted` until `resume()`; the orchestrator uses it to stop
    parallel work before it cleans up.
    """

    def __init__(
        self, *, env: Mapping[str, str] | None = None, default_timeout: float | None = None
    ) -> None:
        self._env = dict(env) if env is not None else None
        self._default_timeout = default_timeout
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[str]] = set()
        self._interrupted = threading.Event()

    def run(self, command: Command, *, check: bool = True) -> Result:
        if self._interrupted.is_set():
            raise Interrupted(f"not started (interrupted): {command.shell()}")
        proc = self._start(command)
        if self._interrupted.is_set():
            # `interrupt()` came while this one was starting, after the check above: it
            # killed what it saw live, which may not have held this one yet.
            self._kill(proc)
        timeout = command.timeout if command.timeout is not None else self._default_timeout
        try:
            stdout, stderr = proc.communicate(command.stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            stdout, stderr = proc.communicate()
            result = Result(command, proc.returncode, stdout, stderr)
            raise CommandTimeout(result, what=f"timed out after {timeout:g}s") from None
        except BaseException:  # Ctrl-C in this thread: the child must not outlive the wait
            self._kill(proc)
            raise
        finally:
            with self._lock:
                self._live.discard(proc)
        result = Result(command, proc.returncode, stdout, stderr)
        if self._interrupted.is_set() and not result.ok:
            raise Interrupted(f"interrupted: {command.shell()}")
        if check and not result.ok:
            raise CommandError(result)
        return result

    def _start(self, command: Command) -> subprocess.Popen[str]:
        env = dict(self._env if self._env is not None else os.environ)
        env.update(command.env)
        try:
            proc = subprocess.Popen(
                list(command.argv),
                stdin=subprocess.PIPE if command.stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=env,
                start_new_session=True,
                preexec_fn=_DIE_WITH_PARENT,  # noqa: PLW1509 (one prctl call, no Python state)
            )
        except FileNotFoundError:
            raise CommandNotFound(command) from None
        with self._lock:
            self._live.add(proc)
        return proc

    def interrupt(self) -> None:
        """Kill what is running and refuse new commands until `resume()`."""
        self._interrupted.set()
        with self._lock:
            live = list(self._live)
        for proc in live:
            self._kill(proc)

    def resume(self) -> None:
        self._interrupted.clear()

    @staticmethod
    def _kill(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
        """SIGTERM to the child's whole process group, SIGKILL if it lingers."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            try:
                proc.wait(timeout=_KILL_GRACE_SECONDS)
                return
            except subprocess.TimeoutExpired:
                continue
