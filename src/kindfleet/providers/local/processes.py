"""Background processes that outlive the command that started them, found again by pid
file, and stopped gracefully and then for sure.

A pid file alone lies once the pid is reused; ours also records the process's start time,
so a stale file is recognised as stale instead of a stranger being signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from kindfleet.errors import LOW_DISK, UsageError
from kindfleet.exec import Command, stream


@dataclass(frozen=True)
class Handle:
    pid: int
    started: float  # psutil create_time, to tell our process from a reused pid


def spawn(
    argv: Sequence[str],
    *,
    pidfile: Path,
    logfile: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Handle:
    """Start `argv` in its own session (it survives us and our terminal's signals)."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    handle = Handle(proc.pid, psutil.Process(proc.pid).create_time())
    write_pidfile(pidfile, handle)
    return handle


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a process's log, indented; or why there are none. A process that
    died on a full disk wrote no log, and "exited while starting:" with nothing after it
    sent the user to read an empty file: the disk's room is the news."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        text = []
    if text:
        return "\n".join(f"    {line}" for line in text)
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return "    (no log)"
    if free < LOW_DISK:
        return f"    (its log is empty, and the disk of {path.parent} has {free // 1024} KiB free)"
    return "    (its log is empty)"


def write_pidfile(pidfile: Path, handle: Handle) -> None:
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    tmp = pidfile.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": handle.pid, "started": handle.started}))
    tmp.replace(pidfile)


def read_pidfile(pidfile: Path) -> Handle | None:
    try:
        data = json.loads(pidfile.read_text())
        return Handle(int(data["pid"]), float(data["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def alive(handle: Handle | None) -> bool:
    if handle is None:
        return False
    try:
        proc = psutil.Process(handle.pid)
        return (
            abs(proc.create_time() - handle.started) < 0.01
            and proc.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        return False


def running(pidfile: Path) -> Handle | None:
    handle = read_pidfile(pidfile)
    return handle if alive(handle) else None


def stopped(handle: Handle) -> bool:
    """Stopped by a signal (SIGSTOP, SIGTSTP): alive, and doing nothing until continued."""
    try:
        return bool(psutil.Process(handle.pid).status() == psutil.STATUS_STOPPED)
    except psutil.Error:
        return False


def rss_bytes(handle: Handle) -> int | None:
    """Resident memory of the process and its children (a spoke's runs count too)."""
    try:
        proc = psutil.Process(handle.pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def stop(pidfile: Path, *, grace_seconds: float = 10.0) -> bool:
    """SIGTERM the process group, wait, then SIGKILL it. True if something was running."""
    handle = read_pidfile(pidfile)
    if not alive(handle):
        pidfile.unlink(missing_ok=True)
        return False
    assert handle is not None
    stop_all([handle], grace_seconds=grace_seconds)
    pidfile.unlink(missing_ok=True)
    return True


def left_in(root: Path) -> list[Handle]:
    """Our processes (the hub, agents, their launchers and keepers, link proxies: told by
    what they run) with a path argument under `root` (a fleet's state), found by command
    line and not by pid file: a `down` killed half-way, or a state directory removed under
    a running fleet, took the pid files and left the processes running, out of every later
    command's sight."""
    where, me, found = os.path.abspath(root) + os.sep, os.getuid(), []
    for proc in psutil.process_iter(["cmdline", "uids", "create_time", "cwd"]):
        try:
            argv, uids, cwd = proc.info["cmdline"] or [], proc.info["uids"], proc.info["cwd"]
        except psutil.Error:
            continue
        if uids is None or uids.real != me or proc.pid == os.getpid() or not _ours(argv):
            continue
        paths = (a.removeprefix("sqlite:///") for a in argv[1:])
        if any(os.path.abspath(os.path.join(cwd or "/", a)).startswith(where) for a in paths):
            found.append(Handle(proc.pid, float(proc.info["create_time"])))
    return found


def _ours(argv: Sequence[str]) -> bool:
    """A Python running the hub, an agent, a launcher (a keeper is its fork) or a link."""
    if len(argv) < 2 or not os.path.basename(argv[0]).startswith("python"):
        return False
    if argv[1] == "-m":
        return len(argv) > 2 and argv[2] in ("kindfleet.platform.hub", "kindfleet.platform.agent")
    if argv[1].endswith(os.sep + "netproxy.py"):
        return True
    return "-c" in argv[1:4] and any("launcher import main" in a for a in argv[1:5])


def stop_all(handles: Sequence[Handle], *, grace_seconds: float = 5.0) -> None:
    """SIGTERM each (its group too when it leads a session of its own, as `spawn` makes
    them), wait, then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
        left = [h for h in handles if alive(h)]
        for handle in left:
            _signal_process(handle.pid, sig)
        deadline = time.monotonic() + wait
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [h for h in left if alive(h)]
    for handle in handles:
        _reap(handle.pid)


def _signal_process(pid: int, sig: signal.Signals) -> None:
    """Its group when it leads a session (`spawn` makes them so), and the process itself
    (also when the group may not be signalled)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getsid(pid) == pid:
            os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def kill(pidfile: Path) -> bool:
    """SIGKILL at once, no grace (what `kill -9` does): for failure drills."""
    handle = read_pidfile(pidfile)
    if not alive(handle):
        return False
    assert handle is not None
    os.kill(handle.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(handle):
        _reap(handle.pid)
        time.sleep(0.02)
    return True


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return


SPOKECTL = "kindfleet.platform.agent.spokectl"


def spokectl_follow(python: str, *args: str, running: Callable[[], bool]) -> None:
    """`spokectl logs ARGS --follow` writing to this process's stdout until `running()`
    turns false (then its stdin is closed: it gives out what is left and exits); a
    `UsageError` with the line it printed when what was asked is not there."""
    command = Command((python, "-m", SPOKECTL, *args, "--follow", "--until-eof"))
    with tempfile.TemporaryFile() as err:
        code = stream(command, stop=lambda: not running(), stderr=err)
        err.seek(0)
        if code != 0:
            raise _refusal(err.read())


def spokectl(python: str, *args: str, timeout: float = 60.0) -> str:
    """Ask a spoke agent's state directory something through its own small command
    (`python -m kindfleet.platform.agent.spokectl ...`); its stdout, or a `UsageError`
    with the one line it printed when what was asked is not there."""
    proc = subprocess.run(
        [python, "-m", SPOKECTL, *args],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise _refusal(proc.stderr)
    return proc.stdout.decode(errors="replace")


def _refusal(stderr: bytes) -> UsageError:
    """The one line spokectl printed when what was asked is not there."""
    said = stderr.decode(errors="replace").strip().splitlines()
    return UsageError((said[-1] if said else "spokectl failed").removeprefix("error: "))
