"""The agent's end of the launcher (launcher.py): starts it when the first run needs it (and
again after it died), sends it runs and stop requests, and turns what it answers into one
future per run that ends when the run has ended and nothing of it is left.

The launcher is started from the event-loop thread, the thread that lives as long as the
agent: its death signal fires when the thread that forked it exits, not the process.

Before a launcher starts, what an earlier one left is reaped (reaper.py): after a crash of
the agent itself, or after its previous launcher died. That also makes "the launcher
died" safe to report: every run it had is failed only once nothing of it can still run.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from kindfleet.platform.agent import logs, paths
from kindfleet.platform.agent.executors.process import reaper
from kindfleet.platform.agent.executors.process.framing import MAX_MESSAGE, Decoder, Message, encode
from kindfleet.platform.agent.executors.process.logcap import KUBELET_LIKE, LogCap

log = logs.get("launcher")
READY_SECONDS = 20.0  # a cold start of the launcher on a starved machine
REFUSED_SECONDS = 1.0  # how long a launcher's refusal answers the runs that start meanwhile
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from kindfleet.platform.agent.executors.process.launcher import main; "
    "sys.exit(main(sys.argv[2:]))"
)


@dataclass(frozen=True)
class Started:
    pid: int  # the run's first process
    keeper: int
    keeper_start: int
    group: str | None  # the keeper's cgroup, when there is one


@dataclass(frozen=True)
class Ended:
    code: int | None  # the first process's exit code (128 + N: killed by signal N)
    reason: str | None = None  # set when the run was lost rather than ended
    leftovers: int = 0  # processes that were still there when it ended, and were killed
    killed: str | None = None  # why its keeper killed it (OOMKilled)
    message: str | None = None


class LaunchFailed(Exception):
    def __init__(
        self, message: str, *, code: int | None = None, reason: str = "StartFailed"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason


class LaunchRefused(LaunchFailed):
    """The launcher said why it could not start (it cannot keep its records)."""


class LauncherClient:
    def __init__(
        self,
        state_dir: Path,
        *,
        cgroups: str = "auto",
        idle_seconds: float = 15.0,
        log_cap: LogCap = KUBELET_LIKE,
    ) -> None:
        self.state_dir = state_dir
        self.cgroups = cgroups
        self.idle_seconds = idle_seconds
        self.log_cap = log_cap
        self.pid: int | None = None
        self.group: str | None = None  # the launcher's cgroup (None: sessions only)
        self._proc: subprocess.Popen[bytes] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[Message] | None = None
        self._starting: dict[str, asyncio.Future[Started]] = {}
        self._ends: dict[str, asyncio.Future[Ended]] = {}
        self._lock = asyncio.Lock()
        self._reaped = False
        self._queued: list[bytes] = []
        self._refused: tuple[float, LaunchRefused] | None = None  # until when, and why
        self._gone: subprocess.Popen[bytes] | None = None  # the last launcher that ended

    # ------------------------------------------------------------------ runs

    async def run(
        self, key: str, run_dir: Path, argv: list[str], env: dict[str, str], memory: int = 0
    ) -> Started:
        """Start a run (killed past `memory` bytes, 0: no limit); LaunchFailed when it could
        not start at all."""
        await self._ensure()
        loop = asyncio.get_running_loop()
        started: asyncio.Future[Started] = loop.create_future()
        self._starting[key] = started
        self._ends[key] = loop.create_future()
        cap = [self.log_cap.max_bytes, self.log_cap.files]
        frame = encode(
            {"op": "run", "key": key, "dir": str(run_dir), "argv": argv, "env": env,
             "logs": cap, "memory": memory}
        )  # fmt: skip
        if len(frame) > MAX_MESSAGE:  # the launcher would take the stream for broken
            self._starting.pop(key, None)
            self._ends.pop(key, None)
            raise LaunchFailed(
                f"its command and environment take {len(frame) >> 20} MiB, more than a run "
                f"can be started with ({MAX_MESSAGE >> 20} MiB)"
            )
        self._send_frame(frame)
        try:
            return await started
        except BaseException:
            self._ends.pop(key, None)
            raise
        finally:
            self._starting.pop(key, None)

    def ended(self, key: str) -> asyncio.Future[Ended] | None:
        """Done when the run has ended; None for a run this client did not start."""
        return self._ends.get(key)

    def term(self, key: str) -> None:
        self._send({"op": "term", "key": key})

    def kill(self, key: str) -> None:
        self._send({"op": "kill", "key": key})

    def forget(self, key: str) -> None:
        self._ends.pop(key, None)

    async def prepare(self) -> list[int]:
        """Reap what an earlier launcher of this state directory left (once)."""
        if self._reaped:
            return []
        killed = await asyncio.to_thread(reaper.reap, self.state_dir)
        self._reaped = True
        if killed:
            log.warning("killed %d process(es) left by runs of an earlier agent", len(killed))
        return killed

    # ------------------------------------------------------------------ the launcher

    async def _ensure(self) -> None:
        if self._writer is not None:
            return
        async with self._lock:
            if self._writer is not None:
                return
            refused = self._refused
            if refused is not None and time.monotonic() < refused[0]:
                # Runs that wait for room try again each on its own: one launcher start per
                # REFUSED_SECONDS answers them all, not an interpreter's start per try.
                raise LaunchRefused(refused[1].message, reason=refused[1].reason)
            await self.prepare()
            try:
                await self._start()
            except LaunchRefused as exc:
                self._refused = (time.monotonic() + REFUSED_SECONDS, exc)
                raise
            self._refused = None

    async def _start(self) -> None:
        ours, theirs = socket.socketpair()
        src = Path(paths.__file__).resolve().parents[3]  # where `kindfleet` is
        argv = [
            sys.executable, "-I", "-S", "-c", _BOOT, str(src),
            "--fd", str(theirs.fileno()), "--agent", str(os.getpid()),
            "--state-dir", str(self.state_dir), "--cgroups", self.cgroups,
            "--idle-seconds", f"{self.idle_seconds:g}",
        ]  # fmt: skip
        with theirs:
            self._proc = subprocess.Popen(
                argv,
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env={"LANG": "C.UTF-8"},  # not the agent's: nothing of it is the runs' business
            )
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        self._ready = asyncio.get_running_loop().create_future()
        self._reading = asyncio.create_task(self._read(reader, self._proc), name="launcher")
        try:
            async with asyncio.timeout(READY_SECONDS):
                ready = await asyncio.shield(self._ready)
        except TimeoutError:
            self._proc.kill()
            writer.close()
            raise LaunchFailed("the launcher did not start in time") from None
        except LaunchRefused:  # it said why
            writer.close()
            raise
        except LaunchFailed:
            writer.close()
            raise LaunchFailed("the launcher exited as it started") from None
        if self._gone is self._proc:  # it said ready, then its end came before this
            writer.close()
            raise LaunchFailed("the launcher exited as it started")
        # Only now: runs that come meanwhile wait in `_ensure` for this start's outcome.
        # Sent to a launcher not yet ready, they failed with it (StartFailed, for good)
        # when it could not start, also for want of room, when they could have waited.
        self._writer = writer
        self.pid, self.group = int(ready["pid"]), ready.get("group")
        log.info(
            "launcher %d up (%s)",
            self.pid,
            f"cgroup {self.group}" if self.group else "no cgroup: sessions and subreapers",
        )

    async def _read(self, reader: asyncio.StreamReader, proc: subprocess.Popen[bytes]) -> None:
        decoder = Decoder()
        try:
            while data := await reader.read(1 << 16):
                for message in decoder.feed(data):
                    self._dispatch(message)
        except (OSError, ValueError) as exc:
            log.error("reading from the launcher failed: %s", exc)
        finally:
            await self._lost(proc)

    def _dispatch(self, message: Message) -> None:
        event, key = message.get("ev"), str(message.get("key"))
        if event == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(message)
        elif event == "refused" and self._ready is not None and not self._ready.done():
            why = str(message.get("message") or "could not start")
            reason = str(message.get("reason") or "StartFailed")
            self._ready.set_exception(LaunchRefused(f"the launcher {why}", reason=reason))
        elif event == "started" and key in self._starting:
            self._starting[key].set_result(
                Started(
                    pid=int(message["pid"]),
                    keeper=int(message["keeper"]),
                    keeper_start=int(message["keeper_start"]),
                    group=message.get("group"),
                )
            )
        elif event == "failed" and key in self._starting:
            self._starting[key].set_exception(
                LaunchFailed(
                    str(message.get("message") or "could not start"),
                    code=message.get("code"),
                    reason=str(message.get("reason") or "StartFailed"),
                )
            )
        elif event == "exited" and key in self._starting and not self._starting[key].done():
            # Its keeper died before it said the run started (the launcher reaped it and
            # what it left): the start failed. Waiting for a `started` would wait for ever.
            self._starting[key].set_exception(
                LaunchFailed(
                    str(message.get("message") or "its keeper died while starting it"),
                    reason=str(message.get("reason") or "KeeperLost"),
                )
            )
        elif event == "exited" and key in self._ends and not self._ends[key].done():
            ended = Ended(
                message.get("code"),
                message.get("reason"),
                message.get("leftovers", 0),
                message.get("killed"),
                message.get("message"),
            )
            self._ends[key].set_result(ended)

    async def _lost(self, proc: subprocess.Popen[bytes]) -> None:
        """The launcher is gone (it died, or it was closed): its keepers killed their runs
        when it went; reap what is left of them before anything is reported."""
        if proc is self._proc:
            self._gone = proc
            self._let_go()
            if self._ready is not None and not self._ready.done():
                self._ready.set_exception(LaunchFailed("the launcher exited"))
        async with self._lock:
            with suppress(Exception):
                await asyncio.to_thread(proc.wait, 30)
            if proc is not self._proc:
                # One that failed to start (it held no run), replaced since: the keepers and
                # the runs in hand are the new launcher's.
                return
            killed = await asyncio.to_thread(
                reaper.reap, self.state_dir, keepers_seconds=reaper.KEEPERS_FINISH_SECONDS
            )
            if self._starting or any(not f.done() for f in self._ends.values()):
                log.error(
                    "the launcher %s exited (%s) with runs in hand: they are lost (%d leftover "
                    "process(es) killed)",
                    self.pid,
                    proc.returncode,
                    len(killed),
                )
            for starting in self._starting.values():
                if not starting.done():
                    starting.set_exception(
                        LaunchFailed("the launcher stopped while starting this run")
                    )
            for ending in self._ends.values():
                if not ending.done():
                    ending.set_result(Ended(None, "LauncherLost", len(killed)))

    def _let_go(self) -> None:
        """No more messages to this launcher: the next run starts a new one."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _send(self, message: Message) -> None:
        self._send_frame(encode(message))

    def _send_frame(self, frame: bytes) -> None:
        """Queued, and written with the others of this turn of the event loop: one write
        and one wakeup of the launcher for many runs."""
        if self._writer is None:
            return  # no launcher: nothing runs that a message could be about
        self._queued.append(frame)
        if len(self._queued) == 1:
            asyncio.get_running_loop().call_soon(self._write)

    def _write(self) -> None:
        data, self._queued = b"".join(self._queued), []
        if self._writer is not None and data:
            self._writer.write(data)

    async def close(self, timeout: float = 30.0) -> None:
        """Stop the launcher: closing its socket makes it kill whatever still runs, then
        exit."""
        writer, reading = self._writer, self._reading
        if writer is None or reading is None:
            return
        self._write()  # what this turn queued goes first
        writer.close()
        with suppress(Exception):
            await writer.wait_closed()
        done, _ = await asyncio.wait([reading], timeout=timeout)
        if not done and self._proc is not None:
            self._proc.kill()
            await asyncio.wait([reading], timeout=5)
