"""The launcher: the one process that starts a spoke's runs, so that the agent never forks.

    agent (asyncio, ~50 MB) --socket-- launcher (this file, ~10 MB, single-threaded)
                                          |-- keeper -- run: a tree of processes
                                          |-- keeper -- run
                                          `-- idle keepers, ready for the next runs

Why a separate process: forking the agent for every run copied its page tables (a 55 MiB
Python process; `fork`, not `vfork`, because a pre-exec hook was needed to set the death
signal) and was most of the cost of a short run. The launcher is started once, with the
standard library only (`python -I -S`); it forks a keeper only when no idle one is left,
and a keeper starts each run with `posix_spawn` (a vfork).

Why runs wait for the end of a round of events: a keeper's whole life (the fork, its
copy-on-write faults, its exit) costs about 3.6 ms of CPU, ten times what it costs to serve
one more run. The agent sends runs in bursts; handed out as they were read, each run of a
burst found no keeper idle yet (their `exited` were in the same round, not read yet) and
forked one: 160 keepers per spoke for 160 runs in flight of `/bin/true`. Taken at the end
of the round, a run goes to a keeper freed in it, and at most FORKS_PER_ROUND keepers are
forked per round, the rest waiting for the next round (at once, not for an event): about
90 keepers, and 15-20% less CPU per run (benchmarks/agent_throughput.py). A burst of long
runs still gets a keeper each, a few forks per round; a `term` or `kill` for a run still
waiting goes with it to its keeper, in its turn (stopping a whole waiting burst forked a
keeper per run at once when the stop handed each out).

Why it is correct, link by link (the keepers' part is in keeper.py):

- agent dies, however (SIGTERM after its shutdown, or kill -9): the launcher gets its
  death signal (SIGTERM) or sees the agent's end of the socket close, whichever comes
  first; it signals every keeper to kill its run, again until each is gone (one forked an
  instant before may miss the first), waits for them (bounded), removes its cgroups and
  exits;
- launcher dies, however (kill -9 included): every keeper gets its own death signal and
  kills its run; the agent sees the socket close and reports the runs it had as failed
  only once their keepers are gone (client.py);
- a keeper is killed with SIGKILL: the launcher is a child subreaper, so everything the
  keeper's run left is reparented to the launcher; the launcher kills every child of its
  own that is not a keeper (and all below it), then reports the run ended;
- the agent, the launcher and a keeper die in the same instant: nothing is left to act at
  once; the next agent (or `spokectl reap`) finds the leftovers through the `keepers` file
  in the state directory: each keeper's cgroup (killed whole) and its session (scanned).

Messages are length-prefixed JSON (framing.py). From the agent: `run` {key, dir, argv,
env}, `term` {key}, `kill` {key}. To the agent: `ready` (or `refused` {reason, message}
when it cannot keep its records, as on a full disk: it then exits), then per run `started`
{key, pid, start, keeper, keeper_start, group}, `failed` {key, code, reason, message} or
`exited` {key, code, leftovers[, reason]}.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import os
import selectors
import signal
import socket
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kindfleet.platform import openfiles
from kindfleet.platform.agent import diskroom, paths
from kindfleet.platform.agent.executors.process import cgroups, linux, procfs
from kindfleet.platform.agent.executors.process.framing import Decoder, Message, encode
from kindfleet.platform.agent.executors.process.keeper import Keeper

SHUTDOWN_SECONDS = 15.0  # keepers kill their runs at once; this bounds a stuck one
TELL_AGAIN = 0.05  # seconds between SIGTERMs to keepers not gone yet, at the end
HAND_OUT_TRIES = 3  # keepers found dead in a row before a run is given up as not started
FORKS_PER_ROUND = 4  # new keepers per round of events, while runs wait and none is idle


@dataclass(eq=False)
class _KeeperRef:
    pid: int
    sock: socket.socket
    decoder: Decoder = field(default_factory=Decoder)
    key: str | None = None  # the run it holds
    idle_since: float = field(default_factory=time.monotonic)
    start_ticks: int = 0


class Launcher:
    def __init__(
        self,
        sock: socket.socket,
        *,
        agent: int,
        state_dir: Path,
        use_cgroups: bool,
        idle_seconds: float,
    ) -> None:
        self.sock = sock
        self.agent = agent
        self.state_dir = state_dir
        self.use_cgroups = use_cgroups
        self.idle_seconds = idle_seconds
        self.pid = os.getpid()
        self.keepers: dict[int, _KeeperRef] = {}
        self.idle: list[_KeeperRef] = []
        self.busy: dict[str, _KeeperRef] = {}
        self.waiting: OrderedDict[str, Message] = OrderedDict()  # taken, not handed out yet
        self.stops: dict[str, list[str]] = {}  # `term`/`kill` of waiting runs, in order
        self.decoder = Decoder()
        self.base: Path | None = None
        self.retired_at = 0.0
        self.news: list[bytes] = []
        self.torn = False  # the last record was written in part
        self.run_files = openfiles.raise_limit()  # a socket per keeper; runs get what it had

    def serve(self) -> None:
        try:
            if self._setup():
                self._loop()
        finally:
            self._shutdown()

    def _setup(self) -> bool:
        """Ready to take runs, and the agent told so; False when it cannot keep the records
        its runs need (the agent told why)."""
        linux.die_with_parent(signal.SIGTERM, self.agent)
        os.setsid()
        linux.become_subreaper()
        self.run_umask = os.umask(0o077)  # what it makes is private; runs get the agent's
        read, write = os.pipe()
        os.set_blocking(write, False)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, _noop)
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        signal.set_wakeup_fd(write)
        self.wakeup = (read, write)
        if self.use_cgroups:
            self.base = cgroups.make_base(f"kindfleet-{self.pid}")
        self.start_ticks = procfs.start_of(self.pid) or 0
        try:
            self.records = self._rewrite_records()
        except OSError as exc:  # a run whose keeper is not on record could outlive a crash
            why = f"cannot write its records ({paths.KEEPERS}): {exc.strerror}"
            with contextlib.suppress(OSError):
                _send(self.sock, {"ev": "refused", "reason": diskroom.reason(exc), "message": why})
            return False
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, None)
        self.sel.register(read, selectors.EVENT_READ, "signal")
        gc.freeze()  # keepers are forks: leave the pages they share with the launcher alone
        self._to_agent({"ev": "ready", "pid": self.pid, "group": _text(self.base)})
        self._flush()
        return True

    def _loop(self) -> None:
        while True:
            for key, _ in self.sel.select(timeout=0 if self.waiting else 1.0):
                if key.data == "signal":
                    signals = os.read(self.wakeup[0], 512)
                    if signal.SIGTERM in signals:
                        return
                    self._reap()
                elif key.data is None:
                    data = self.sock.recv(1 << 16)
                    if not data:
                        return  # the agent is gone
                    for message in self.decoder.feed(data):
                        self._from_agent(message)
                else:
                    self._from_keeper(key.data)
            self._start_waiting()
            self._flush()
            self._retire_idle()

    # ------------------------------------------------------------------ messages

    def _from_agent(self, message: Message) -> None:
        op, key = message.get("op"), str(message.get("key"))
        if op == "run" and (key in self.waiting or key in self.busy):
            # One run per key: a second would be started beside the first (and a stop reach
            # only one), or, still waiting, replace it and leave it unanswered for ever.
            self._to_agent(
                {"ev": "failed", "key": key, "code": None, "reason": "StartFailed",
                 "message": "a run with this key is already held by this launcher"}
            )  # fmt: skip
            return
        if op == "run":
            self.waiting[key] = message
            return
        if op in ("term", "kill") and key in self.waiting:
            # Told with the run when a keeper takes it, in its turn: a stop of a burst that
            # waits does not fork a keeper per run at once.
            self.stops.setdefault(key, []).append(op)
            return
        if op in ("term", "kill") and key in self.busy:
            # A keeper that died an instant ago (its SIGCHLD not handled yet) cannot take
            # it: its run's end is reported when it is reaped (KeeperLost), not the
            # launcher's, with every other run on the spoke.
            with contextlib.suppress(OSError):
                _send(self.busy[key].sock, {"op": op})

    def _start_waiting(self) -> None:
        """At the end of a round: the runs taken go to the keepers idle now, then to new
        ones, at most FORKS_PER_ROUND of them; what is left waits for the next round."""
        forks = 0
        while self.waiting and (self.idle or forks < FORKS_PER_ROUND):
            forks += not self.idle
            self._hand_out(*self.waiting.popitem(last=False))

    def _hand_out(self, key: str, message: Message) -> None:
        """The run to an idle keeper, or a new one. An idle keeper may have died unseen (its
        SIGCHLD not handled yet: killed, out of memory): its socket refuses the run, which
        goes to the next keeper; the dead one is reaped as a keeper that held nothing. The
        stops the run was sent while it waited follow it."""
        stops = self.stops.pop(key, [])
        for _ in range(HAND_OUT_TRIES):
            try:
                keeper = self.idle.pop() if self.idle else self._fork_keeper()
            except OSError as exc:  # out of processes, memory or room: this run, not the launcher
                self._to_agent(
                    {"ev": "failed", "key": key, "code": None, "reason": diskroom.reason(exc),
                     "message": f"could not start a keeper for it: {exc.strerror}"}
                )  # fmt: skip
                return
            try:
                _send(keeper.sock, message)
            except OSError:
                continue
            keeper.key = key
            self.busy[key] = keeper
            for op in stops:
                with contextlib.suppress(OSError):  # it died: reaped as KeeperLost
                    _send(keeper.sock, {"op": op})
            return
        self._to_agent(
            {"ev": "failed", "key": key, "code": None, "reason": "StartFailed",
             "message": f"{HAND_OUT_TRIES} keepers in a row died before they could take it"}
        )  # fmt: skip

    def _from_keeper(self, keeper: _KeeperRef) -> None:
        if keeper.pid not in self.keepers:
            return  # reaped earlier in this same round of events: its socket is closed
        try:
            data = keeper.sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:  # it is exiting; SIGCHLD tells the rest
            self.sel.unregister(keeper.sock)
            return
        self._heard(keeper, data)

    def _heard(self, keeper: _KeeperRef, data: bytes) -> None:
        for message in keeper.decoder.feed(data):
            if message.get("ev") in ("exited", "failed") and keeper.key is not None:
                self.busy.pop(str(message["key"]), None)
                keeper.key = None
                keeper.idle_since = time.monotonic()
                if keeper.pid in self.keepers:
                    self.idle.append(keeper)
            self._to_agent(message)

    def _last_words(self, keeper: _KeeperRef) -> None:
        """What a keeper that has just died sent before it died (a run's end, say), which
        the loop has not read yet."""
        keeper.sock.setblocking(False)
        while True:
            try:
                data = keeper.sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            self._heard(keeper, data)

    def _to_agent(self, message: Message) -> None:
        """Queued, and sent with the others of this round of events (`_flush`): one write
        and one wakeup of the agent for many runs' news."""
        self.news.append(encode(message))

    def _flush(self) -> None:
        if self.news:
            data, self.news = b"".join(self.news), []
            with contextlib.suppress(OSError):  # the agent is gone: its EOF ends the loop
                self.sock.sendall(data)

    # ------------------------------------------------------------------ keepers

    def _fork_keeper(self) -> _KeeperRef:
        ours, theirs = socket.socketpair()
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            raise
        if pid == 0:  # the keeper
            try:
                ours.close()
                self._close_inherited()
                openfiles.restore(self.run_files)
                Keeper(theirs, self.pid, self.base, self.run_umask).serve()
            finally:
                os._exit(70)
        theirs.close()
        keeper = _KeeperRef(pid, ours)
        keeper.start_ticks = procfs.start_of(pid) or 0
        try:
            self._record(f"keeper {pid} {keeper.start_ticks}\n")
        except OSError:  # a full disk: a keeper not on record must not hold a run
            os.kill(pid, signal.SIGKILL)
            self._forget(keeper)
            with contextlib.suppress(ChildProcessError):  # else reaped with the strays
                os.waitpid(pid, os.WNOHANG)
            raise
        self.keepers[pid] = keeper
        self.sel.register(ours, selectors.EVENT_READ, keeper)
        return keeper

    def _record(self, line: str) -> None:
        """Append a line to the records, whole or not at all (as far as the reader goes):
        on a nearly full disk a write may take part of it, and the next line must not be
        glued to the torn one."""
        data = ("\n" if self.torn else "").encode() + line.encode()
        written = os.write(self.records, data)
        self.torn = written != len(data)
        if self.torn:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def _close_inherited(self) -> None:
        """In a new keeper: let go of everything that is the launcher's, by the objects
        that own it (so that nothing closes a reused descriptor number later)."""
        signal.set_wakeup_fd(-1)
        self.sel.close()
        self.sock.close()
        for fd in (*self.wakeup, self.records):
            os.close(fd)
        for other in self.keepers.values():
            other.sock.close()

    def _rewrite_records(self) -> int:
        """The `keepers` file (reaper.py) as of now: this launcher, its cgroup, its keepers,
        replaced atomically; the descriptor to append to. Rewritten when keepers that are
        gone outnumber those alive, so that a long-lived spoke's file stays small."""
        path = self.state_dir / paths.KEEPERS
        lines = [f"launcher {self.pid} {self.start_ticks}\n"]
        if self.base is not None:
            lines.append(f"cgroup {self.base}\n")
        lines += [f"keeper {k.pid} {k.start_ticks}\n" for k in self.keepers.values()]
        tmp = path.with_name(f"{paths.KEEPERS}.{self.pid}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags | os.O_APPEND, paths.PRIVATE_FILE)
        try:
            os.write(fd, "".join(lines).encode())
            os.replace(tmp, path)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.gone = 0
        self.torn = False
        return fd

    def _compact_records(self) -> None:
        try:
            fresh = self._rewrite_records()
        except OSError:  # a full disk: the file as it is stays right, only longer
            return
        os.close(self.records)
        self.records = fresh

    def _retire_idle(self) -> None:
        now = time.monotonic()
        if now - self.retired_at < 1.0:
            return  # looked less than a second ago: not on every message
        self.retired_at = now
        for keeper in [k for k in self.idle if now - k.idle_since > self.idle_seconds]:
            self.idle.remove(keeper)
            with contextlib.suppress(OSError):  # gone already: reaped as it is
                _send(keeper.sock, {"op": "exit"})

    def _reap(self) -> None:
        """Reap what ended; a keeper that died with a run: kill what it left, report it."""
        lost: list[str] = []
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            keeper = self.keepers.pop(pid, None)
            if keeper is None:
                continue  # a stray (see below), reaped
            self._last_words(keeper)
            self._forget(keeper)
            self.gone += 1
            if self.gone > len(self.keepers) + 64:
                self._compact_records()
            if keeper.key is not None:
                lost.append(keeper.key)
                self.busy.pop(keeper.key, None)
        left = self._kill_strays()
        for key in lost:
            self._to_agent(
                {"ev": "exited", "key": key, "code": None, "reason": "KeeperLost",
                 "leftovers": left}
            )  # fmt: skip

    def _forget(self, keeper: _KeeperRef) -> None:
        if keeper in self.idle:
            self.idle.remove(keeper)
        if _registered(self.sel, keeper.sock):
            self.sel.unregister(keeper.sock)
        keeper.sock.close()
        if self.base is not None:
            group = self.base / f"k{keeper.pid}"
            if group.exists():
                cgroups.kill(group)
                cgroups.remove(group)

    def _kill_strays(self) -> int:
        """Every child of the launcher that is not a keeper was reparented here when its
        keeper died: kill it and everything below it, until none is left (bounded)."""
        seen: set[int] = set()
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        pause = 0.0005
        while time.monotonic() < deadline:
            # From every process's stat file: a `children` read while strays exit may omit
            # a living one, and an empty answer here ends the loop.
            strays = procfs.descendants_scanned(self.pid, skip=frozenset(self.keepers))
            if not strays:
                break
            for pid in strays:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            seen.update(strays)
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
            self._reap_strays()
        return len(seen)

    def _reap_strays(self) -> None:
        for pid in procfs.children(self.pid, threads=False):
            if pid not in self.keepers:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    # ------------------------------------------------------------------ the end

    def _shutdown(self) -> None:
        """Every keeper kills its run and exits; then what is left is killed.

        SIGTERM is sent again and again until the keepers are gone: one forked an instant
        ago (the agent's last `run`, taken just before its death) has the launcher's
        handler until it sets its own, and a SIGTERM then is lost; it would go on to start
        its run and hold it until the SIGKILL below."""
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        told = 0.0
        while self.keepers and time.monotonic() < deadline:
            if time.monotonic() - told >= TELL_AGAIN:
                for keeper in self.keepers.values():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(keeper.pid, signal.SIGTERM)
                told = time.monotonic()
            self._reap()
            time.sleep(0.005)
        for keeper in list(self.keepers.values()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(keeper.pid, signal.SIGKILL)
        self._kill_strays()
        if self.base is not None:
            cgroups.kill(self.base)
            cgroups.remove(self.base)
        # The records stay: a new launcher may have taken the file over by now, and records
        # of processes that are gone are harmless (start times are checked).


def _registered(sel: selectors.BaseSelector, sock: socket.socket) -> bool:
    try:
        sel.get_key(sock)
    except KeyError:
        return False
    return True


def _send(sock: socket.socket, message: Message) -> None:
    sock.sendall(encode(message))


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _noop(signum: int, frame: object) -> None:
    """Signals are read from the wakeup pipe; the handler only has to exist."""


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="kindfleet launcher")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--agent", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--cgroups", choices=("auto", "off"), default="auto")
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    Launcher(
        sock,
        agent=args.agent,
        state_dir=args.state_dir,
        use_cgroups=args.cgroups == "auto",
        idle_seconds=args.idle_seconds,
    ).serve()
    return 0
