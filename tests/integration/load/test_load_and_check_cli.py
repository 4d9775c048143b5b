"""`kindfleet load` and `kindfleet check` through the real CLI against a real local
fleet: the report folder (report.json with lost and duplicated at its top, an HTML page
with plots), --spokes spreading work over only the spokes asked for, JUnit XML with one
testcase per check, exit codes, and one-line errors for bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from tests.waiting import local_fleet

from kindfleet.fleet import Fleet
from kindfleet.load import LoadOptions

pytestmark = pytest.mark.slow

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: loadcli
provider: local
spokes:
  - {name: lc-a, labels: {zone: a}, capacity: {cpu: 8, memory: 8Gi}}
  - {name: lc-b, labels: {zone: b}, capacity: {cpu: 8, memory: 8Gi}}
"""


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from local_fleet(tmp_path_factory.mktemp("loadcli"), FLEET)


@pytest.fixture
def run(cli, fleet_file: Path, monkeypatch):
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(fleet_file.parent / "state"))
    return lambda *args: cli(*args, "-f", str(fleet_file))


def test_load_reports_and_spreads_over_the_spokes_asked_for(run, tmp_path: Path):
    result = run("load", "--requests", "60", "--spokes", "1", "--concurrency", "4",
                 "--report", str(tmp_path / "rep"))  # fmt: skip
    assert result.code == 0, result.err
    data = json.loads((tmp_path / "rep/report.json").read_text())
    assert data["lost"] == 0 and data["duplicated"] == 0 and data["accepted"] == 60
    assert data["per_spoke"] == {"lc-a": 60}  # --spokes 1: the first spoke only
    assert data["submit_latency_ms"]["p50"] > 0 and data["end_to_end_s"]["p99"] > 0
    # finished/s is of the span from the first submission to the last end (on the hub's
    # clock), not of the command's time, which includes its wait for the hub's gauges
    work = data["work_seconds"]
    assert data["end_to_end_s"]["max"] <= work + 0.001 and work <= data["total_seconds"]
    assert data["finished_per_second"] == round(60 / work, 1)
    assert set(data["memory_bytes"]) >= {"loadcli-hub", "lc-a"}
    page = (tmp_path / "rep/report.html").read_text()
    assert page.count("<svg") == 4 and "lost <b>0</b>" in page


def test_two_loads_at_once_each_submit_work_of_their_own(fleet_file: Path):
    """A second client racing the first: its submissions must not be taken for replays
    of the first's (the keys were the run's start on the monotonic clock, to the second)."""
    fleet = Fleet.from_path(fleet_file, state_dir=fleet_file.parent / "state")

    def stored() -> int:
        with fleet.hub() as hub:
            return sum(1 for _ in hub.iter_workloads(limit=1000))

    before = stored()
    options = LoadOptions(requests=20, concurrency=4)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: fleet.load(options), range(2)))
    assert stored() - before == 40
    assert [(r.accepted, r.lost, r.duplicated) for r in results] == [(20, 0, 0)] * 2


def test_check_writes_junit_with_one_testcase_per_check(run, tmp_path: Path):
    junit = tmp_path / "out/junit.xml"
    result = run("check", "--suite", "comms,isolation", "--junit", str(junit), "-o", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["ok"] and report["counts"]["failed"] == 0
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert sorted(c.get("name") for c in cases) == sorted(
        ["spokes-registered", "heartbeating", "round-trip", "credential-scope", "workload-network"]
    )
    assert "✓ comms/round-trip" in result.err and "skipped: provider local" in result.err


def test_bad_input_is_one_line_and_an_exit_code(run):
    for args, says in [
        (("check", "--suite", "speed"), "no check suite 'speed'"),
        (("check", "--suite", "failover/teleport"), "no check suite 'failover/teleport'"),
        (("load", "--requests", "5", "--spokes", "9"), "has 2 spokes"),
        (("load", "--requests", "5", "--duration", "forever"), "not a duration"),
        (("load", "--requests", "5", "--duration", "0s"), "must be more than 0"),
        (("load", "--requests", "5", "--timeout", "soon"), "--timeout 'soon' is not a duration"),
        (("load", "--requests", "5", "--rate", "0"), "--rate '0' is not a number of"),
        (("load", "--requests", "5", "--rate", "-5"), "--rate '-5' is not a number"),
        (("load", "--requests", "5", "--rate", "nan"), "--rate 'nan' is not a number"),
        (("load", "--requests", "99999999999999999999"), "at most 10,000,000"),
    ]:
        result = run(*args)
        assert result.code == 2, (args, result.err)
        assert says in result.err and "Traceback" not in result.err


def test_a_load_stopped_midway_says_what_it_left_on_the_fleet(fleet_file: Path):
    """SIGTERM (a cancelled CI job) or Ctrl-C during a load: exit 130 with how much was
    accepted, which stays on the fleet and runs (it printed a blank line)."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "KINDFLEET_STATE_DIR": str(fleet_file.parent / "state"), "NO_COLOR": "1"}
    fleet = Fleet.from_path(fleet_file, state_dir=fleet_file.parent / "state")
    with fleet.hub() as hub:
        before = len(list(hub.iter_workloads()))
    kindfleet = str(Path(sys.executable).parent / "kindfleet")
    load = subprocess.Popen(
        [kindfleet, "load", "-f", str(fleet_file), "--requests", "100000", "--concurrency", "4"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        with fleet.hub() as hub:  # some of it accepted: the load is under way
            while len(list(hub.iter_workloads())) < before + 5:
                assert load.poll() is None, load.communicate()
                time.sleep(0.2)
        load.send_signal(signal.SIGTERM)
        _, err = load.communicate(timeout=60)
    finally:
        load.kill()
    assert load.returncode == 130, err
    said = re.search(
        r"interrupted: (\d+) of 100000 workloads accepted, (\d+) finished \(counted", err
    )
    assert said and int(said.group(1)) >= 5, err
    assert "stays on the fleet" in err and "Traceback" not in err
    # what it said is what the hub holds of it (answers never read included), found by
    # the label the hint names
    label = re.search(r"-l (kindfleet\.dev/load=\w+)", err)
    assert label, err
    key, value = label.group(1).split("=")
    with fleet.hub() as hub:
        ours = list(hub.iter_workloads(labels={key: value}, limit=1000))
    assert len(ours) == int(said.group(1))
    assert int(said.group(2)) <= sum(w.state.terminal for w in ours)
