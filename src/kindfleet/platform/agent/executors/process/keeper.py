"""A keeper holds one run at a time and makes sure that nothing of it outlives it.

A keeper is forked by the launcher, once, and then serves run after run. For each run it
creates the run's directory and files, starts the command with `posix_spawn` (a vfork: the
keeper's size does not matter) in the run's directory, with the run's environment only, in
a process group of its own inside the keeper's session, and waits. It is:

- a child subreaper: whatever the run forks, double-forks or moves to a new session stays
  below the keeper, so when the run's first process exits (or the agent stops the run) the
  keeper kills every process left below it and reaps them, before it reports the run ended;
- in a cgroup of its own where the machine allows it (see cgroups.py): then the run's
  processes cannot leave the group either, and `cgroup.kill` takes them all at once;
- bound to the launcher by the death signal (SIGTERM): if the launcher dies, however it
  dies, the keeper kills its run and exits. So does a SIGTERM from anyone else.

If the keeper itself is killed with SIGKILL, what its run left is reparented to the
launcher (a subreaper too), which kills it (launcher.py). Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import shutil
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from kindfleet.platform.agent import diskroom, paths
from kindfleet.platform.agent.executors.process import cgroups, linux, memcap, procfs
from kindfleet.platform.agent.executors.process.framing import Decoder, Message, encode
from kindfleet.platform.agent.executors.process.logcap import LogCap, RunLogs
from kindfleet.platform.agent.executors.process.pace import MIN_WAIT

KILL_SECONDS = 10.0  # how long to go on killing a run's leftovers (a process stuck in D)
TOGETHER = 0.5  # a look due this soon is taken with the one due now: one wake-up, not two
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class _Run:
    key: str
    pid: int
    code: int | None = None  # set once the run's first process has exited
    memory: memcap.MemoryWatch | None = None  # its spec's memory, while a limit applies
    killed: str | None = None  # why the keeper killed it (OOMKilled), and how it says so
    message: str | None = None


class _StartFailed(Exception):
    def __init__(
        self, message: str, *, code: int | None = None, reason: str = "StartFailed"
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class Keeper:
    def __init__(
        self, sock: socket.socket, launcher: int, base: Path | None, run_umask: int
    ) -> None:
        self.sock = sock
        self.launcher = launcher
        self.pid = os.getpid()
        self.home = base  # the launcher's group: where the keeper steps out to
        self.group = base / f"k{self.pid}" if base else None
        self.run_umask = run_umask
        self.run: _Run | None = None
        self.logs: RunLogs | None = None  # the run's log files, while a cap applies
        self.decoder = Decoder()

    def serve(self) -> NoReturn:
        """Set up, then serve runs until told to exit or the launcher goes."""
        try:
            self._setup()
            self._loop()
        finally:
            self._die()

    def _setup(self) -> None:
        linux.die_with_parent(signal.SIGTERM, self.launcher)
        read, write = os.pipe()
        os.set_blocking(write, False)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, _noop)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.set_wakeup_fd(write)
        self.wakeup = read
        os.setsid()  # its own session: the run's processes are found by it after a crash
        linux.become_subreaper()
        if self.group is not None:
            try:
                self.group.mkdir(mode=paths.PRIVATE_DIR)
                cgroups.enter(self.group)
            except OSError:
                self.group = None
        # What the keeper ignores would stay ignored across exec: a run starts with defaults.
        self.ignored = [s for s in _CATCHABLE if signal.getsignal(s) == signal.SIG_IGN]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, "launcher")
        self.sel.register(read, selectors.EVENT_READ, "signal")
        self.start_ticks = procfs.start_of(self.pid) or 0

    def _loop(self) -> None:
        while True:
            for key, _ in self.sel.select(self._wait()):
                if key.data == "signal":
                    signals = os.read(self.wakeup, 512)
                    if signal.SIGTERM in signals:
                        return
                    self._reap()
                else:
                    data = self.sock.recv(1 << 16)
                    if not data:
                        return  # the launcher is gone
                    for message in self.decoder.feed(data):
                        if not self._handle(message):
                            return
            if self.run is not None and self.run.code is not None:
                self._finish(self.run)
            else:
                self._look()

    def _wait(self) -> float | None:
        """Until the next look at the run's logs or memory; None: nothing to look at."""
        watch = self.run.memory if self.run is not None else None
        due = [d.due for d in (self.logs, watch) if d is not None]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _look(self) -> None:
        now = time.monotonic()
        if self.logs is not None and _due(self.logs.due, self.logs.looked, now):
            self.logs.check(now)
        run = self.run
        if run is None or run.memory is None or not _due(run.memory.due, run.memory.looked, now):
            return
        self._reap()  # a first process that has exited is not judged on its leftovers
        if run.code is not None:
            return
        if run.killed is None:
            below = procfs.descendants(self.pid, single_threaded=True)
            used = sum(memcap.used_bytes(pid) for pid in below)
            if not run.memory.over(used, now):
                return
            run.killed, run.message = "OOMKilled", memcap.describe(used, run.memory.limit)
        self._kill_run(run)  # and again at each look until it is gone: what a kill missed
        run.memory.due = now + MIN_WAIT

    def _kill_run(self, run: _Run) -> None:
        """SIGKILL to the run's first process and its group by pid (not reaped yet, so they
        are the run's) and to every process below the keeper."""
        _signal(run.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(run.pid, signal.SIGKILL)
        self._signal_all(signal.SIGKILL)

    def _handle(self, message: Message) -> bool:
        op = message.get("op")
        if op == "run" and self.run is None:
            self._launch(message)
        elif op == "term" and self.run is not None:
            self._signal_all(signal.SIGTERM)
        elif op == "kill" and self.run is not None:
            self._signal_all(signal.SIGKILL)
        elif op == "exit":
            return self.run is not None  # an idle keeper retires; a busy one carries on
        return True

    # ------------------------------------------------------------------ one run

    def _launch(self, message: Message) -> None:
        key = str(message["key"])
        cap = LogCap(*message.get("logs", (0, 1)))
        try:
            pid = self._spawn(
                Path(message["dir"]), list(message["argv"]), dict(message["env"]), cap
            )
        except _StartFailed as exc:
            self._send(
                {"ev": "failed", "key": key, "code": exc.code, "reason": exc.reason,
                 "message": str(exc)}
            )  # fmt: skip
            return
        self.run = _Run(key, pid)
        if memory := int(message.get("memory") or 0):
            self.run.memory = memcap.MemoryWatch(memory, time.monotonic())
        self._send(
            {"ev": "started", "key": key, "pid": pid, "keeper": self.pid,
             "keeper_start": self.start_ticks, "group": str(self.group) if self.group else None}
        )  # fmt: skip

    def _spawn(self, run_dir: Path, argv: list[str], env: dict[str, str], cap: LogCap) -> int:
        try:
            run_dir.mkdir(mode=paths.PRIVATE_DIR)
        except FileExistsError:
            raise _StartFailed(
                "started by an earlier agent before it stopped (its directory exists): "
                "a generation never runs twice",
                reason="AgentRestarted",
            ) from None
        except OSError as exc:
            raise _start_failed("cannot create the run directory", exc) from None
        fds: list[int] = []
        try:
            dfd = _keep(fds, os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW))
            os.mkdir(paths.OUTPUTS, paths.PRIVATE_DIR, dir_fd=dfd)
            out = _keep(fds, os.open(paths.STDOUT, _OPEN_FLAGS | os.O_APPEND, 0o600, dir_fd=dfd))
            err = _keep(fds, os.open(paths.STDERR, _OPEN_FLAGS | os.O_APPEND, 0o600, dir_fd=dfd))
            if cap.on:
                self.logs = RunLogs(dfd, cap)
                self.logs.add(paths.STDOUT, out)
                self.logs.add(paths.STDERR, err)
            os.fchdir(dfd)
            program = _resolve(argv[0], env.get("PATH", ""))
            previous = os.umask(self.run_umask)
            try:
                return os.posix_spawn(
                    program,
                    argv,
                    env,
                    file_actions=[
                        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                        (os.POSIX_SPAWN_DUP2, out, 1),
                        (os.POSIX_SPAWN_DUP2, err, 2),
                    ],
                    setpgroup=0,
                    setsigdef=self.ignored,
                    setsigmask=(),
                )
            finally:
                os.umask(previous)
        except OSError as exc:
            self._close_logs()
            if not diskroom.full(exc):
                raise _failure(argv[0], exc) from None
            # Nothing of the run started: what was made of its directory goes, so that the
            # agent's next try (once there is room) is not taken for a run started before.
            shutil.rmtree(run_dir, ignore_errors=True)
            if run_dir.exists():  # a retry would take it for a run started before
                raise _StartFailed(
                    f"cannot create the run's files ({exc.strerror}) nor remove its directory"
                ) from None
            raise _start_failed("cannot create the run's files", exc) from None
        finally:
            for fd in fds:
                os.close(fd)

    def _finish(self, run: _Run) -> None:
        """The run's first process has exited: nothing else of the run may go on."""
        left = self._kill_below()
        if left and self.group is not None and set(cgroups.members(self.group)) - {self.pid}:
            left += len(self._kill_group())  # cannot be, as a subreaper: but if it ever is
        if self.logs is not None:
            self.logs.finish()  # a run that wrote a burst and ended is kept to its cap too
        self._close_logs()
        self.run = None
        exited = {"ev": "exited", "key": run.key, "code": run.code, "leftovers": left}
        if run.killed is not None:
            exited |= {"killed": run.killed, "message": run.message}
        self._send(exited)

    def _close_logs(self) -> None:
        if self.logs is not None:
            self.logs.close()
            self.logs = None

    def _signal_all(self, sig: signal.Signals) -> None:
        for pid in procfs.descendants(self.pid, single_threaded=True):
            _signal(pid, sig)

    def _kill_below(self) -> int:
        """SIGKILL every process below the keeper until none is left (or KILL_SECONDS pass:
        a process in uninterruptible sleep dies only when it wakes). How many there were.

        "None left" is the kernel's word that the keeper has no child at all, not an empty
        read of /proc: a `children` file read while a child exits may omit a living one, and
        a subreaper with no child has nothing below it."""
        seen: set[int] = set()
        deadline = time.monotonic() + KILL_SECONDS
        pause = 0.0005
        while True:
            self._reap()
            if not procfs.has_children() or time.monotonic() > deadline:
                return len(seen)
            below = procfs.descendants(self.pid, single_threaded=True)
            for pid in below:
                _signal(pid, signal.SIGKILL)
            seen.update(below)
            time.sleep(pause)
            pause = min(pause * 2, 0.02)

    def _kill_group(self) -> list[int]:
        """What is in the keeper's cgroup but not below it: step out, kill the group, step
        back in."""
        assert self.group is not None
        assert self.home is not None
        try:
            cgroups.enter(self.home)
            return cgroups.kill(self.group)
        except OSError:
            return []
        finally:
            try:
                cgroups.enter(self.group)
            except OSError:
                self.group = None

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.run is not None and pid == self.run.pid:
                code = os.waitstatus_to_exitcode(status)
                self.run.code = 128 - code if code < 0 else code

    # ------------------------------------------------------------------ the end

    def _die(self) -> NoReturn:
        """Kill what runs, leave the cgroup, exit. Also the way out of any bug above."""
        try:
            self._signal_all(signal.SIGKILL)
            self._kill_below()
            if self.group is not None and self.home is not None:
                cgroups.enter(self.home)
                cgroups.kill(self.group)
                cgroups.remove(self.group)
        finally:
            os._exit(0)

    def _send(self, message: Message) -> None:
        with contextlib.suppress(OSError):  # the launcher is gone: its EOF ends the loop
            self.sock.sendall(encode(message))


_CATCHABLE = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}


def _due(due: float, looked: float, now: float) -> bool:
    """Due now, or soon enough to be taken with a look due now (one wake-up, not two): by at
    most a quarter of its own wait, so a quick look (a run just started, a log that grows
    fast) keeps its time and only the slow looks of quiet runs move."""
    return now >= due - min(TOGETHER, (due - looked) / 4)


def _noop(signum: int, frame: object) -> None:
    """Signals are read from the wakeup pipe; the handler only has to exist."""


def _keep(fds: list[int], fd: int) -> int:
    fds.append(fd)
    return fd


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # gone; setuid (sudo)
        os.kill(pid, sig)


def _resolve(command: str, search: str) -> str:
    """`command` as execvp finds it on the run's PATH (not the keeper's)."""
    if "/" in command:
        return command
    denied = False
    for folder in search.split(os.pathsep):
        candidate = os.path.join(folder or ".", command)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            denied = True
    raise OSError(errno.EACCES if denied else errno.ENOENT, os.strerror(errno.ENOENT))


def _start_failed(what: str, exc: OSError) -> _StartFailed:
    return _StartFailed(f"{what}: {exc.strerror}", reason=diskroom.reason(exc))


def _failure(command: str, exc: OSError) -> _StartFailed:
    name = os.path.basename(command)
    if exc.errno == errno.ENOENT:
        return _StartFailed(f"command not found: {name}", code=127)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.ENOEXEC):
        return _StartFailed(f"command not executable: {name}", code=126)
    return _StartFailed(f"could not start: {exc.strerror}")
