"""The hub's store lost under a running fleet, against real processes (issue 14, part 3).

A hub killed and started again by `kindfleet up` on its own store: the spokes, left
running, rejoin it (and `up` says so, instead of "repaired"); their work went on. A hub
whose store was deleted comes back on an empty one: the spokes remember the store they
joined, so they are refused by it (409, before any token is looked at) and say why, their
runs go on, and `up` fails naming the cause. With the store restored from a backup, the
spokes are heard again with the credentials they had, and what was acknowledged is all
there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.integration.platform.conftest import Drill

from kindfleet.errors import KindfleetError
from kindfleet.platform.wire import WorkloadState
from kindfleet.providers.local import processes

pytestmark = pytest.mark.slow


def _store(drill: Drill) -> list[Path]:
    home = drill.layout.dir(drill.fleet.spec.hub.name)
    return [home / f"hub.db{suffix}" for suffix in ("", "-wal", "-shm")]


def _running(drill: Drill, seconds: float) -> str:
    with drill.client() as hub:
        wid = hub.submit(drill.spec("long", seconds, tick=0.5)).workload.id
    drill.wait_for([wid], lambda w: w.state is WorkloadState.RUNNING, 60)
    return wid


def test_up_after_a_hub_kill_says_the_spokes_rejoined_and_their_work_went_on(drill: Drill):
    wid = _running(drill, 40)
    drill.kill(drill.fleet.spec.hub.name)
    result = drill.fleet.up(preflight=False, parallel=3, wait=60)
    actions = {o.name: o.action for o in result.outcomes}
    assert actions == {"drill-hub": "create", "drill-a": "rejoin", "drill-b": "rejoin",
                       "drill-c": "rejoin"}  # fmt: skip
    with drill.client() as hub:
        workload = hub.get(wid)
    assert workload.state is WorkloadState.RUNNING and workload.generation == 1
    assert [r.generation for r in drill.runs() if r.workload == wid] == [1]


def test_a_hub_on_an_empty_store_is_refused_by_its_spokes_until_the_store_is_back(
    drill: Drill, tmp_path: Path
):
    wid = _running(drill, 60)
    hub_name = drill.fleet.spec.hub.name
    drill.kill(hub_name)
    backup = tmp_path / "backup"
    backup.mkdir()
    for path in _store(drill):
        if path.exists():
            shutil.copy2(path, backup / path.name)
            path.unlink()

    with pytest.raises(KindfleetError) as failed:
        drill.fleet.up(preflight=False, parallel=3, wait=15)
    said = str(failed.value)
    assert "remembers hub store" in said and "Restore the hub's store" in said, said
    with drill.client() as hub:
        assert hub.spoke_list().items == []  # no spoke joined the empty store
    log = drill.layout.logfile(hub_name).read_text()
    assert "restore its store from a backup" in log
    for spoke in ("drill-a", "drill-b", "drill-c"):
        assert processes.running(drill.pidfile(spoke)), f"{spoke} stopped"
    [run] = [r for r in drill.runs() if r.workload == wid]
    assert run.end is None  # the run goes on through all this

    drill.kill(hub_name)
    for path in _store(drill):
        path.unlink(missing_ok=True)
    for saved in backup.iterdir():
        shutil.copy2(saved, _store(drill)[0].parent / saved.name)
    result = drill.fleet.up(preflight=False, parallel=3, wait=60)
    assert {o.action for o in result.outcomes if o.name != hub_name} == {"rejoin"}
    with drill.client() as hub:
        assert sorted(s.name for s in hub.spoke_list().items) == ["drill-a", "drill-b", "drill-c"]
        workload = hub.get(wid)
    assert workload.state is WorkloadState.RUNNING and workload.generation == 1
    assert [r.generation for r in drill.runs() if r.workload == wid] == [1]
