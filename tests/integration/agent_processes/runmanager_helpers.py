"""The run manager in-process over a real journal and the process executor, and the few
steps its tests take with it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

from agent_unit_helpers import py

from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.executors.process.executor import ProcessExecutor
from kindfleet.platform.agent.records import Records, journal
from kindfleet.platform.agent.runs import RunManager
from kindfleet.platform.agent.settings import AgentSettings
from kindfleet.platform.wire import Assignment, WorkloadSpec

SLEEP = py("import time; time.sleep(30)")
QUICK = py("pass")


def manager(settings: AgentSettings) -> RunManager:
    db = AgentDb(settings.db_path)
    records = Records(db, journal(db), reported=lambda: None)
    return RunManager(settings, ProcessExecutor(settings.state_dir), records)


async def settled(m: RunManager) -> None:
    """Every change submitted so far is committed (the journal keeps their order)."""
    await m.records.journal.submit(lambda conn: None)


def events(m: RunManager) -> list[tuple[str, int, str, str | None]]:
    return [
        (e.body["workload"], e.body["generation"], e.body["type"], e.body["reason"])
        for e in m.records.entries(10_000)
        if e.kind == "event"
    ]


async def close(m: RunManager) -> None:
    await m.shutdown(5)
    await m.executor.close()
    await m.records.journal.close()


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


def assignment(
    workload: str, generation: int, spec: WorkloadSpec = SLEEP, cancel=False
) -> Assignment:
    return Assignment(workload=workload, generation=generation, spec=spec, cancel=cancel)


def python_script(code: str, *args: str, timeout: float = 120) -> str:
    """What a Python script run in a process of its own printed; it must succeed, and say
    nothing of a traceback (an error said to the caller, not a crash)."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return out.stdout


def launcher_by_hand(records: str) -> str:
    """The first lines of a script that drives a launcher by hand, one step at a time (no
    loop, no process of its own: `la`; `take` for a message from the agent, `run` to make
    one, `heard` to read the keepers), its keepers' records written to `records` (a Python
    expression, an open descriptor)."""
    return f"""
import json, os, selectors, signal, socket, sys, time
from collections import OrderedDict
from pathlib import Path
from kindfleet.platform import openfiles
from kindfleet.platform.agent.executors.process import launcher, linux, procfs
from kindfleet.platform.agent.executors.process.framing import Decoder

la = launcher.Launcher.__new__(launcher.Launcher)
la.pid, la.base, la.idle, la.busy, la.news, la.gone, la.keepers = os.getpid(), None, [], {{}}, [], 0, {{}}
la.sel = selectors.DefaultSelector()
la.sock, _ = socket.socketpair()
la.wakeup = os.pipe()
la.run_files, la.run_umask = openfiles.raise_limit(), 0o022
la.records = {records}
la.torn = False
la.waiting, la.stops = OrderedDict(), {{}}

def take(message):  # one round of events in which the agent sent `message`
    la._from_agent(message)
    la._start_waiting()

def run(key, *argv):  # the agent's `run` of `argv`, in a directory under sys.argv[1]
    return {{"op": "run", "key": key, "dir": str(Path(sys.argv[1]) / key), "argv": list(argv),
            "env": {{"PATH": "/usr/bin:/bin"}}, "logs": [0, 1], "memory": 0}}

def said(ev, key=None):  # news in which a keeper said `ev` (of `key`)
    return lambda news: any(m.get("ev") == ev and key in (None, m["key"]) for m in news)

def heard(until):  # what the keepers said, read as the loop reads it, once `until(news)`
    news = []
    for _ in range(500):
        for key, _ in la.sel.select(timeout=0.01):  # only keepers are registered here
            la._from_keeper(key.data)
        news = list(Decoder().feed(b"".join(la.news)))
        if until(news):
            return news
    raise SystemExit(f"never heard it: {{news}}")
"""
