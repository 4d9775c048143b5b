"""Two `kindfleet fault` commands racing on one spoke, as separate processes: the lock
and the record make exactly one win; the others are refused naming the winner."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from tests.unit.faults.test_faultbook import FLEET, Recorder

from kindfleet import faults
from kindfleet.faults import FaultBook, FaultRefused
from kindfleet.fleetspec import from_text
from kindfleet.providers.base import FaultSpec


def _race(directory: str, barrier: Any, results: Any) -> None:
    spec = from_text(FLEET, source="fb")
    book = FaultBook(Path(directory))
    barrier.wait()
    try:
        faults.inject(spec, Recorder(), book, FaultSpec("partition", "a"))
        results.put("ok")
    except FaultRefused:
        results.put("refused")


def test_two_processes_racing_on_one_spoke_one_wins_one_is_refused(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path), barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["ok", "refused", "refused", "refused"]
    assert len(FaultBook(tmp_path).live()) == 1
