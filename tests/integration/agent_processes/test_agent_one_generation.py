"""One generation of a workload at a time on a spoke, however the older one ends.

Found from outside (a ledger every run of a workload writes to): the hub handed a spoke
generation 2 of a workload while that spoke still ran generation 1 (its tree frozen past
its lease, or cut off past lost-after, then back); the agent fenced generation 1 with
SIGTERM and started generation 2 at once, and a generation 1 that ignored SIGTERM (a
trainer saving its checkpoint) ran beside it for the whole stop grace, exclusive work
included. Now the new generation starts once the old one is gone, and exclusive work past
its lease is killed at once, not given a grace the lease no longer has."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

from agent_unit_helpers import py
from runmanager_helpers import assignment, close, events, manager, until

from kindfleet.platform.agent.answers import HubAnswers
from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.executors.process.executor import ProcessExecutor
from kindfleet.platform.agent.records import Records, journal
from kindfleet.platform.agent.runs import RunManager


def _stubborn(ledger: Path, **fields: object):
    """Writes its pid, ignores SIGTERM, runs a minute."""
    return py(
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(ledger)!r}, 'a').write(f'older {{os.getpid()}}\\n'); time.sleep(60)",
        **fields,
    )


def _older_alive(ledger: Path):
    """Writes whether the process the ledger names is still alive when it starts."""
    return py(
        "import os\n"
        f"pid = int(open({str(ledger)!r}).read().split()[1])\n"
        "try:\n    os.kill(pid, 0); alive = True\n"
        "except ProcessLookupError:\n    alive = False\n"
        f"open({str(ledger)!r}, 'a').write(f'newer: older alive {{alive}}\\n')"
    )


async def test_a_newer_generation_starts_once_the_one_it_fenced_is_gone(settings, tmp_path):
    ledger = tmp_path / "ledger"
    m = manager(settings)  # a stop grace of 1 s
    try:
        await m.take([assignment("w1", 1, _stubborn(ledger))])
        await until(lambda: ledger.exists() and ledger.read_text().startswith("older"))
        await m.take([assignment("w1", 2, _older_alive(ledger))])
        await until(lambda: "w1-g2" in m.done)
        assert ledger.read_text().splitlines()[-1] == "newer: older alive False"
        assert ("w1", 2, "succeeded") in [e[:3] for e in events(m)]
    finally:
        await close(m)


async def test_exclusive_work_past_its_lease_is_killed_without_a_grace(settings, tmp_path):
    """A 30 s stop grace, a 60 s lease; the spoke wakes 100 s after its last answered
    heartbeat (a frozen VM): the hub may have placed the work again already."""
    settings = dataclasses.replace(settings, stop_grace_seconds=30.0)
    clock = [1000.0]
    answers = HubAnswers(clock=lambda: clock[0])
    answers.answered(clock[0])
    db = AgentDb(settings.db_path)
    records = Records(db, journal(db), reported=lambda: None)
    m = RunManager(settings, ProcessExecutor(settings.state_dir), records, answers)
    ledger = tmp_path / "ledger"
    try:
        spec = _stubborn(ledger, mode="exclusive", lease_seconds=60)
        await m.take([assignment("w1", 1, spec)])
        await until(ledger.exists)
        clock[0] += 100  # thawed
        thawed = time.monotonic()
        m.runs["w1-g1"].wake.set()
        await until(lambda: "w1-g1" in m.done, timeout=20)  # before: the 30 s grace
        assert time.monotonic() - thawed < 20
        assert events(m)[-1][2:] == ("failed", "LeaseExpired")
    finally:
        await close(m)


async def test_exclusive_work_waits_for_a_fresh_answer_to_start_with_its_lease_nearly_out(
    settings, tmp_path
):
    """Found from outside: thawed after a hub pause, the last answered heartbeat had been
    sent just before it; every exclusive run started with a second left, was stopped
    (LeaseExpired) and spent a retry. A 10 s lease and a 5 s grace give a run 3.9 s from
    an answered heartbeat's send; with 0.9 s left it waits for the next answer."""
    settings = dataclasses.replace(settings, stop_grace_seconds=5.0)
    clock = [1000.0]
    answers = HubAnswers(clock=lambda: clock[0])
    answers.answered(clock[0] - 3.0)  # sent 3 s ago: 0.9 s left
    db = AgentDb(settings.db_path)
    records = Records(db, journal(db), reported=lambda: None)
    m = RunManager(settings, ProcessExecutor(settings.state_dir), records, answers)
    ledger = tmp_path / "ledger"
    try:
        spec = py(f"open({str(ledger)!r}, 'a').write('ran\\n')", mode="exclusive", lease_seconds=10)
        await m.take([assignment("w1", 1, spec)])
        for _ in range(10):  # supervision looks again and again: still not started
            m.runs["w1-g1"].wake.set()
            await asyncio.sleep(0.05)
        assert not ledger.exists()
        answers.answered(clock[0])  # a heartbeat answered now: 3.9 s left
        m.runs["w1-g1"].wake.set()
        await until(lambda: "w1-g1" in m.done, timeout=20)
        assert ledger.read_text() == "ran\n"
        assert events(m)[-1][2:3] == ("succeeded",)
    finally:
        await close(m)
