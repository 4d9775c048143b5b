"""`kindfleet matrix` through the real kind CLI, as far as this machine allows: the
matrix plans the version's fleet (renamed, at the pinned node image of that version),
kind is asked to create it and cannot pull the image here, and the matrix records that
as the version's error, exports the logs, takes the fleet down (nothing of it is left),
and says so in the table data and the JUnit file. Where images can be pulled the same
command brings the clusters up (the e2e-kind workflow runs it)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from tests.integration.kindreal.fleets import NOT_HERE, KindfleetEnv, containers
from tests.integration.kindreal.harness import PREFIX

from kindfleet.kind import images

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: {name}
hub:
  nodes: [{{role: control-plane}}]
"""


def test_a_version_kind_cannot_bring_up_is_an_error_with_logs_and_nothing_left(
    kindfleet_env: KindfleetEnv,
):
    env = kindfleet_env
    name = f"{PREFIX}mx"
    path = env.write(name, FLEET.format(name=name))
    work, junit = env.base / "matrix", env.base / "matrix-junit"
    skips = [a for check in sorted(NOT_HERE) for a in ("--skip-check", check)]
    done = env.cli(
        "matrix", "-f", str(path), "--versions", "1.35", *skips, "--wait", "60",
        "--workdir", str(work), "--junit-dir", str(junit), "-o", "json", timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    (result,) = json.loads(done.stdout)["versions"]
    assert (result["version"], result["result"], result["fleet"]) == (
        "v1.35.8", "error", f"{name}-v1-35",
    )  # fmt: skip
    steps = {s["name"]: s for s in result["steps"]}
    assert list(steps) == ["up", "logs", "down"]  # no command on a fleet that is not up
    assert not steps["up"]["ok"] and f"{name}-v1-35-hub" in steps["up"]["message"]
    assert steps["down"]["ok"], steps["down"]["message"]
    planned = (work / "v1-35" / "fleet.yaml").read_text()
    assert "kubernetesVersion: v1.35.8" in planned
    assert containers(f"{name}-v1-35") == []
    case = ET.parse(junit / "matrix-v1.35.8.xml").getroot().find("testsuite/testcase[@name='up']")
    error = case.find("error")
    assert error is not None and f"{name}-v1-35-hub" in error.text
    assert (
        images.IMAGES["v1.35.8"].split("@")[0] in done.stderr + error.text + steps["up"]["message"]
    )
