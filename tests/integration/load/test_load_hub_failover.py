"""`kindfleet load` beside a failover drill, on a real local fleet: the hub SIGKILLed while
the run waits for its work. Still down at `--timeout`, the run ends with its summary and
report, the accepted work `unchecked` (neither lost nor succeeded), what to do next, and
exit code 1; restarted within the deadline, the run asks again and its report is whole.

The work waits on a file the test makes, so the test, not a sleep, chooses the moment of
the kill: every workload accepted and running, the command waiting for them to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.waiting import local_fleet, until

from kindfleet.fleet import Fleet
from kindfleet.load import LoadOptions, LoadResult
from kindfleet.platform.wire import WorkloadSpec, WorkloadState

pytestmark = pytest.mark.slow

REQUESTS = 8
KINDFLEET = Path(sys.executable).with_name("kindfleet")
FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: loadfo
provider: local
spokes:
  - {name: lf-a, capacity: {cpu: 8, memory: 8Gi}}
  - {name: lf-b, capacity: {cpu: 8, memory: 8Gi}}
"""


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from local_fleet(tmp_path_factory.mktemp("loadfo"), FLEET, clear_faults=True)


@pytest.fixture
def fleet(fleet_file: Path) -> Iterator[Fleet]:
    fleet = Fleet.from_path(fleet_file, state_dir=fleet_file.parent / "state")
    try:
        yield fleet
    finally:
        fleet.clear_faults()  # the hub back for the next test, whatever this one did


def gated(gate: Path, tag: str) -> WorkloadSpec:
    """Work that runs until `gate` exists, labelled `test=<tag>` for the test to watch."""
    wait = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.05)"
    return WorkloadSpec(name="gated", command=[sys.executable, "-c", wait],
                        resources={"cpu": "100m", "memory": "16Mi"}, labels={"test": tag})  # fmt: skip


def states(fleet: Fleet, tag: str) -> list[WorkloadState]:
    with fleet.hub(timeout=10) as hub:
        return [w.state for w in hub.iter_workloads(labels={"test": tag}, limit=1000)]


def all_in(fleet: Fleet, tag: str, state: WorkloadState) -> bool:
    found = states(fleet, tag)
    return len(found) == REQUESTS and set(found) == {state}


def waiting(load: subprocess.Popen[str]) -> bool:
    """True while the command runs; its output, as the failure, once it has ended."""
    if load.poll() is not None:
        out, err = load.communicate()
        raise AssertionError(f"the load ended early ({load.returncode}): {err}{out}")
    return True


def test_a_hub_dead_at_the_deadline_leaves_a_summary_and_report_of_unchecked_work(
    fleet: Fleet, fleet_file: Path, tmp_path: Path
):
    gate, report = tmp_path / "gate", tmp_path / "rep"
    spec = tmp_path / "gated.yaml"
    spec.write_text(json.dumps(gated(gate, "dead").model_dump(mode="json", exclude_none=True)))
    env = {**os.environ, "KINDFLEET_STATE_DIR": str(fleet_file.parent / "state"), "NO_COLOR": "1"}
    load = subprocess.Popen(
        [str(KINDFLEET), "load", "-f", str(fleet_file), "--requests", str(REQUESTS),
         "--concurrency", "4", "--spec", str(spec), "--timeout", "6s",
         "--report", str(report), "-o", "json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # every one accepted and running: the command waits for them to end
        until(lambda: waiting(load) and all_in(fleet, "dead", WorkloadState.RUNNING), 60,
              "the load's work to run")  # fmt: skip
        fleet.fault("kill", "hub")  # SIGKILL, kept down until cleared
        out, err = load.communicate(timeout=60)
    finally:
        load.kill()
        gate.touch()
    assert load.returncode == 1, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert (summary["accepted"], summary["unchecked"], summary["lost"]) == (REQUESTS, REQUESTS, 0)
    assert "not running" in summary["unchecked_why"]
    assert f"unchecked {REQUESTS} of {REQUESTS} accepted" in err, err
    assert "neither lost nor succeeded" in err and "kindfleet fault clear" in err
    label = summary["label"]
    assert f"`kindfleet workloads -f {fleet_file} -l {label}` shows what became of them" in err
    written = json.loads((report / "report.json").read_text())
    assert (written["unchecked"], written["lost"], written["label"]) == (REQUESTS, 0, label)
    assert f"unchecked <b>{REQUESTS}</b>" in (report / "report.html").read_text()
    fleet.clear_faults()  # what the hint says: the hub back, the label finds the run's work
    key, value = label.split("=")
    with fleet.hub(timeout=10) as hub:
        assert len(list(hub.iter_workloads(labels={key: value}, limit=1000))) == REQUESTS


def test_a_hub_killed_as_the_run_is_checked_and_back_within_the_deadline_is_asked_again(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Killed the moment the run asks for its workloads, the hub is restarted when it is
    asked again: the run's report is whole, nothing lost, nothing unchecked."""
    gate = tmp_path / "gate"
    asked: list[str] = []
    armed = threading.Event()
    real = fleet.hub

    def hub(**kwargs: Any) -> Any:
        if armed.is_set():  # the run's look at its workloads: the watcher's client is older
            asked.append(fleet.fault("kill", "hub").id if not asked else "again")
            if len(asked) == 2:
                fleet.clear_faults([asked[0]])  # the hub started again, Ready
        return real(**kwargs)

    monkeypatch.setattr(fleet, "hub", hub)
    options = LoadOptions(requests=REQUESTS, concurrency=4, spec=gated(gate, "back"), timeout=60)
    got: list[LoadResult | BaseException] = []

    def loading() -> None:
        try:
            got.append(fleet.load(options, report=tmp_path / "rep"))
        except BaseException as exc:
            got.append(exc)

    runner = threading.Thread(target=loading, daemon=True)
    runner.start()
    try:
        until(lambda: got or all_in(fleet, "back", WorkloadState.RUNNING), 60, "the work to run")
        armed.set()  # its next client is the one it lists its workloads with
        gate.touch()
        runner.join(90)
    finally:
        gate.touch()
        armed.clear()
    assert not runner.is_alive() and got, "the load did not end"
    result = got[0]
    assert isinstance(result, LoadResult), result
    assert len(asked) >= 2  # the hub was dead when first asked, and asked again
    assert (result.accepted, result.lost, result.duplicated, result.unchecked) == (
        REQUESTS, 0, 0, 0,
    )  # fmt: skip
    assert result.states == {"Succeeded": REQUESTS}
    written = json.loads((tmp_path / "rep/report.json").read_text())
    assert (written["lost"], written["unchecked"], written["accepted"]) == (0, 0, REQUESTS)
