"""A version's outcome from its steps, its JUnit XML, and how many fleets the machine holds
at once by the KIND provider's own preflight."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from kindfleet.matrix import MatrixResult, Step, VersionResult, fit, plan
from kindfleet.providers.kind import KindProvider
from kindfleet.providers.local import LocalProvider
from tests.unit.providers.test_kind_preflight import Probes

UP, DOWN = Step("up", True, 20.0), Step("down", True, 2.0)


def version(*steps):
    return VersionResult("v1.35.8", "dev-v1-35", 0, steps, "/tmp/v1-35")


@pytest.mark.parametrize(
    ("steps", "outcome"),
    [
        ((UP, Step("command", True, 5.0), DOWN), "passed"),
        (
            (UP, Step("command", False, 5.0, "exited 1"), Step("logs", True, 1.0, "/l"), DOWN),
            "failed",
        ),
        ((Step("up", False, 3.0, "kind said no"), Step("logs", True, 1.0, "/l"), DOWN), "error"),
        ((UP, Step("command", True, 5.0), Step("down", False, 1.0, "stuck")), "error"),
        ((UP, DOWN), "failed"),  # no command ran: nothing passed
    ],
)
def test_the_outcome_follows_the_steps(steps, outcome):
    assert version(*steps).outcome == outcome


def test_the_data_names_the_result_duration_and_logs():
    result = version(
        UP, Step("command", False, 5.0, "exited 1"), Step("logs", True, 1.5, "/l"), DOWN
    )
    data = result.to_dict()
    assert (data["version"], data["result"], data["seconds"], data["logs"]) == (
        "v1.35.8",
        "failed",
        28.5,
        "/l",
    )
    assert [s["name"] for s in data["steps"]] == ["up", "command", "logs", "down"]
    whole = MatrixResult(
        "dev", "kindfleet check", 1, (result, version(UP, Step("command", True, 1.0), DOWN))
    )
    assert not whole.ok and whole.to_dict()["ok"] is False
    assert [v["result"] for v in whole.to_dict()["versions"]] == ["failed", "passed"]


def test_junit_has_a_case_per_step_with_the_failures_and_errors():
    result = version(
        UP,
        Step("command", False, 5.0, "`x` exited 1\n    output"),
        Step("logs", True, 1.0, "/l"),
        Step("down", False, 2.0, "docker said no"),
    )
    root = ET.fromstring(result.junit_xml("kindfleet check"))
    suite = root.find("testsuite")
    assert suite.get("name") == "kubernetes-v1.35.8"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["up", "kindfleet check", "logs", "down"]
    assert cases["kindfleet check"].find("failure").get("message") == "`x` exited 1"
    assert "output" in cases["kindfleet check"].find("failure").text
    assert cases["down"].find("error").get("message") == "docker said no"
    assert cases["up"].find("failure") is None and cases["up"].get("time") == "20.000"


# --- what the machine holds ------------------------------------------------------------

VERSIONS = ["v1.34.11", "v1.35.8", "v1.36.4", "v1.37.0"]
FLEET = {"apiVersion": "kindfleet.dev/v1alpha1", "kind": "Fleet", "name": "dev", "spokes": 2}


def kind_with(memory_gib, limits=(8192, 1048576)):
    info = {"ServerVersion": "28.1", "MemTotal": memory_gib * 2**30, "CgroupVersion": "2"}
    return KindProvider(probes=Probes(info=info, limits=limits))


def test_the_kind_preflight_bounds_fleets_at_once_by_memory():
    made = plan(FLEET, VERSIONS, parallel=4)
    # One fleet of 3 clusters x (control plane + worker) needs about 3.4 GiB.
    assert fit(made, kind_with(64)) == 4
    assert fit(made, kind_with(8)) == 2
    assert fit(made, kind_with(2)) == 1  # one fleet at a time: its own up says what is short


def test_the_kind_preflight_bounds_fleets_at_once_by_inotify():
    made = plan(FLEET, VERSIONS, parallel=4)
    # 6 nodes a fleet, 32 inotify instances a node: 512 instances hold 2 fleets.
    assert fit(made, kind_with(64, limits=(512, 1048576))) == 2


def test_the_local_runtime_checks_nothing_so_every_slot_runs(tmp_path):
    made = plan(FLEET, VERSIONS, parallel=3, provider="local")
    assert fit(made, LocalProvider()) == 3
