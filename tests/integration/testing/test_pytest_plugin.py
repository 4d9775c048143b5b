"""The pytest plugin as a user's suite meets it: a session fleet and the hub fixture."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
from tests.conftest import EXAMPLES

from kindfleet.testing import load

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow

SUITE = """
import sys
from kindfleet.testing import submit_and_wait

def test_work_runs_on_a_gpu_spoke(kindfleet_hub):
    done = submit_and_wait(kindfleet_hub, {
        "name": "probe", "command": [sys.executable, "-c", "print(1)"],
        "resources": {"gpu": 1}, "selector": {"match_labels": {"pool": "gpu"}},
    })
    assert done.state == "Succeeded"
    assert done.spoke == "local-gpu"

def test_spokes_are_there(kindfleet_fleet, kindfleet_hub):
    names = {s.name for s in kindfleet_hub.spokes()}
    assert names == {c.name for c in kindfleet_fleet.fleet.spec.spokes}
"""


def test_a_suite_gets_a_session_fleet_and_its_hub(pytester: pytest.Pytester):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        "--kindfleet-file",
        str(EXAMPLES / "local.yaml"),
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=2)


def test_without_a_fleet_the_fixtures_skip_with_the_reason(pytester: pytest.Pytester):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-rs")  # the plugin loads by its entry point
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*no fleet: pass --kindfleet-file FILE*"])


XDIST_SUITE = """
import os, time
import pytest

@pytest.mark.parametrize("n", range(4))
def test_each_worker_uses_the_fleet(kindfleet_hub, n):
    time.sleep(0.5)  # long enough for both workers to take tests
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(f"hub-{worker}.url", "w") as f:
        f.write(kindfleet_hub.url)
    assert kindfleet_hub.spokes()

def test_where_its_state_is(kindfleet_fleet):
    with open("state.dir", "w") as f:
        f.write(str(kindfleet_fleet.fleet.state_dir))
"""


def _hubs_of(path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "kindfleet.platform.hub" in cmdline and str(path) in cmdline:
            found.append(proc)
    return found


def test_xdist_workers_share_one_fleet_which_the_controller_takes_down(
    pytester: pytest.Pytester,
):
    """Found from outside: each worker brought up its own copy of the fleet; with
    --kindfleet-keep (and on KIND, always) the second met the first's `up` (FleetBusy) and
    its tests errored, and the first to finish would take the fleet down under the other."""
    pytester.makepyfile(test_suite=XDIST_SUITE)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--kindfleet-file", str(EXAMPLES / "local.yaml"), "-p", "no:cacheprovider"
    )  # fmt: skip
    result.assert_outcomes(passed=5)
    urls = {p.read_text() for p in pytester.path.glob("hub-gw*.url")}
    assert len(list(pytester.path.glob("hub-gw*.url"))) == 2  # both workers ran tests
    assert len(urls) == 1  # on one hub
    state = (pytester.path / "state.dir").read_text()
    assert _hubs_of(state) == []  # and it is down
    assert not Path(state).exists()  # its state cleaned up


CRASH_SUITE = """
import os

def test_uses_the_fleet(kindfleet_fleet):
    with open("state.dir", "w") as f:
        f.write(str(kindfleet_fleet.fleet.state_dir))

def test_then_the_worker_dies():
    os._exit(3)
"""


def test_xdist_fleet_goes_down_after_a_worker_crash(pytester: pytest.Pytester):
    """The controller learnt of the fleet from its workers' last words: a worker that
    crashed (or a Ctrl-C) left the fleet up."""
    pytester.makepyfile(test_suite=CRASH_SUITE)
    result = pytester.runpytest_subprocess(
        "-n", "1", "-p", "no:randomly", "--kindfleet-file", str(EXAMPLES / "local.yaml"),
        "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    state = (pytester.path / "state.dir").read_text()
    assert _hubs_of(state) == []


def test_xdist_workers_fail_at_once_when_the_shared_fleet_cannot_come_up(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    pytester.makepyfile(test_suite=XDIST_SUITE)
    fleet = pytester.path / "broken.yaml"
    fleet.write_text(
        "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: xbroken\nprovider: local\n"
        "spokes: 1\n"
    )
    state = pytester.path / "state"  # a kept fleet's: the usual state directory
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(state))
    blocker = state / "xbroken" / "clusters"
    blocker.mkdir(parents=True)
    (blocker / "xbroken-spoke1").write_text("in the way")  # the spoke cannot have its directory
    try:
        result = pytester.runpytest_subprocess(
            "-n", "2", "--kindfleet-file", str(fleet), "--kindfleet-keep",
            "-p", "no:cacheprovider",
        )  # fmt: skip
        result.assert_outcomes(errors=5)
        result.stdout.fnmatch_lines(["*the session fleet did not come up*xbroken-spoke1*"])
        assert len(_hubs_of(state)) == 1  # one up was tried, not one per worker
    finally:
        (blocker / "xbroken-spoke1").unlink()
        load(fleet, state_dir=state).down()
    assert _hubs_of(state) == []


TERM_SUITE = """
import time

def test_runs_until_stopped(kindfleet_fleet, kindfleet_hub):
    with open("state.dir", "w") as f:
        f.write(str(kindfleet_fleet.fleet.state_dir))
    kindfleet_hub.submit({"name": "long", "command": ["sleep", "300"]}, idempotency_key="long")
    open("ready", "w").close()
    time.sleep(120)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_sigterm_ends_the_session_as_ctrl_c_does_and_takes_the_fleet_down(
    pytester: pytest.Pytester, workers: list[str]
):
    """A cancelled CI job or `timeout` sends SIGTERM: it killed pytest where it stood and
    left the hub, the agents and the test's workloads running (found from outside)."""
    pytester.makepyfile(test_suite=TERM_SUITE)
    argv = ["--kindfleet-file", str(EXAMPLES / "local.yaml"), "-p", "no:cacheprovider"]
    proc = pytester.popen([sys.executable, "-m", "pytest", *workers, *argv])
    try:
        deadline = time.monotonic() + 120
        while not (pytester.path / "ready").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the suite never got going"
            time.sleep(0.1)
        state = (pytester.path / "state.dir").read_text()
        assert _hubs_of(state)
        proc.send_signal(signal.SIGTERM)
        proc.wait(90)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = [
        p for p in psutil.process_iter(["cmdline"]) if state in " ".join(p.info["cmdline"] or [])
    ]
    for leftover in left:  # a failure here leaves no fleet behind for the tests after it
        with contextlib.suppress(psutil.Error):
            leftover.kill()
    assert proc.returncode != 0
    assert left == []


MARKED_SUITE = """
import pytest

@pytest.mark.kindfleet
def test_needs_the_fleet(request):
    assert "kindfleet_fleet" in request.fixturenames
    fleet = request.getfixturevalue("kindfleet_fleet")
    assert fleet.hub().spokes()
"""


def test_a_marked_test_gets_the_fleet_or_is_skipped_with_the_reason(pytester: pytest.Pytester):
    pytester.makepyfile(test_suite=MARKED_SUITE)
    skipped = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*no fleet: pass --kindfleet-file FILE*"])
    ran = pytester.runpytest_subprocess(
        "--kindfleet-file", str(EXAMPLES / "local.yaml"), "-p", "no:cacheprovider"
    )
    ran.assert_outcomes(passed=1)
