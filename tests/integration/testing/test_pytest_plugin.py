"""The pytest plugin as a user's suite meets it: a session fleet and the hub fixture."""

from __future__ import annotations

import pytest
from tests.conftest import EXAMPLES

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
