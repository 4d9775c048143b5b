"""`kindfleet matrix` end to end on the local runtime: two versions at once, each a real
fleet of processes under its own name, the command run against it, the failing version's
logs exported, both fleets down, one table / JSON and a JUnit file per version."""

from __future__ import annotations

import json
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from tests.integration.lifecycle.test_logs_export_local import FLEET  # hub + one spoke

from kindfleet import Fleet

# Asks the fleet it was given (KINDFLEET_FILE) whether it is up, then passes at v1.35.8
# and fails at v1.36.4, so both paths run.
COMMAND = """\
import json, os, subprocess, sys
out = subprocess.run([sys.executable, "-m", "kindfleet", "status", "-o", "json"],
                     capture_output=True, text=True, check=True).stdout
state = json.loads(out)
print(state["fleet"], all(c["ready"] for c in state["clusters"]), sys.argv[1])
ok = all(c["ready"] for c in state["clusters"]) and sys.argv[1] == "v1.35.8"
sys.exit(0 if ok else 3)
"""


def test_two_versions_at_once_on_the_local_runtime(cli, tmp_path, monkeypatch):
    name = f"mx{uuid.uuid4().hex[:6]}"
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(name=name))
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    work, junit = tmp_path / "work", tmp_path / "junit"
    result = cli(
        "matrix",
        "-f",
        str(path),
        "--versions",
        "1.35,1.36",
        "--parallel",
        "2",
        "--workdir",
        str(work),
        "--junit-dir",
        str(junit),
        "-o",
        "json",
        "--",
        sys.executable,
        "-c",
        COMMAND,
        "{version}",
    )
    assert result.code == 1, result.err
    data = json.loads(result.out)
    assert data["parallel"] == 2
    runs = {v["version"]: v for v in data["versions"]}
    assert list(runs) == ["v1.35.8", "v1.36.4"]
    passed, failed = runs["v1.35.8"], runs["v1.36.4"]
    assert (passed["result"], failed["result"]) == ("passed", "failed")
    assert [s["name"] for s in passed["steps"]] == ["up", "command", "down"]
    assert [s["name"] for s in failed["steps"]] == ["up", "command", "logs", "down"]
    assert {passed["slot"], failed["slot"]} == {0, 1}
    assert f"{name}-v1-35 True v1.35.8" in (work / "v1-35" / "command.log").read_text()
    assert f"{name}-v1-36 True v1.36.4" in (work / "v1-36" / "command.log").read_text()
    logs = Path(failed["logs"])
    assert (logs / f"{name}-v1-36-hub" / "hub.log").read_text().strip()
    assert passed["logs"] is None and not (work / "v1-35" / "logs").exists()
    for version in runs:
        suite = ET.parse(junit / f"matrix-{version}.xml").getroot().find("testsuite")
        assert suite.get("failures") == ("0" if version == "v1.35.8" else "1")
    for label in ("v1-35", "v1-36"):  # down, always
        state = Fleet.from_path(work / label / "fleet.yaml", state_dir=tmp_path / "state").status()
        assert not any(c.exists for c in state.clusters), state


def test_bad_input_is_one_line_naming_the_flag(cli, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(name="bad"))
    for args, says in (
        (
            ["--versions", "1.28"],
            "--versions: kind v0.33.0 publishes no node image for Kubernetes 1.28",
        ),
        (["--versions", "1.35", "--parallel", "0"], "--parallel 0: must be at least 1"),
        (["--versions", "1.35", "-c", "nope"], "--cluster: fleet 'bad' has no cluster 'nope'"),
    ):
        result = cli("matrix", "-f", str(path), *args)
        assert result.code == 2, result.err
        assert says in result.err and "Traceback" not in result.err


def test_write_fleets_writes_each_versions_fleet_and_runs_nothing(cli, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(name="wf"))
    result = cli(
        "matrix", "-f", str(path), "--versions", "1.35,1.37", "--write-fleets", str(tmp_path / "out")
    )  # fmt: skip
    assert result.code == 0, result.err
    written = [Path(line) for line in result.out.splitlines()]
    assert written == [
        tmp_path / "out" / "v1-35" / "fleet.yaml",
        tmp_path / "out" / "v1-37" / "fleet.yaml",
    ]
    planned = Fleet.from_path(written[1])
    assert [c.name for c in planned.spec.clusters] == ["wf-v1-37-hub", "wf-a-v1-37"]
    assert not any(c.exists for c in planned.status().clusters)  # nothing was brought up


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_write_fleets_with_o_is_data_and_a_folder_it_cannot_make_is_said(cli, tmp_path, fmt):
    """Found from outside: `-o json` printed plain paths, and /proc/x was called a bug."""
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(name="wo"))
    out = tmp_path / "out"
    result = cli(
        "matrix", "-f", str(path), "--versions", "1.35,1.37", "--write-fleets", str(out), "-o", fmt
    )
    assert result.code == 0, result.err
    data = json.loads(result.out) if fmt == "json" else yaml.safe_load(result.out)
    assert [(d["version"], d["fleet"]) for d in data] == [
        ("v1.35.8", "wo-v1-35"),
        ("v1.37.0", "wo-v1-37"),
    ]
    assert [Path(d["file"]) for d in data] == [
        out / "v1-35" / "fleet.yaml",
        out / "v1-37" / "fleet.yaml",
    ]
    refused = cli("matrix", "-f", str(path), "--versions", "1.35", "--write-fleets", "/proc/x")
    assert refused.code == 2 and "cannot write /proc/x" in refused.err, refused.err
    assert "bug" not in refused.err and "Traceback" not in refused.err


def test_ctrl_c_kills_the_command_takes_the_fleet_down_and_skips_the_rest(tmp_path):
    """The versions run on threads and their commands in sessions of their own, out of
    Ctrl-C's reach: the matrix stops them itself, and still takes the fleet down."""
    import _thread

    from tests.procscan import end_naming

    from kindfleet import matrix as matrices

    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(name=f"mi{uuid.uuid4().hex[:6]}"))
    work = tmp_path / "work"
    opts = matrices.MatrixOptions(
        command=(sys.executable, "-c", "import time; time.sleep(60)", str(work)),
        workdir=work,
        state_dir=tmp_path / "state",
        provider="local",
    )
    made = matrices.load_plan(path, matrices.parse_versions(["1.35,1.36"]), opts)
    said: list[tuple[str, str]] = []

    def progress(version: str, what: str) -> None:
        said.append((version, what))
        if (version, what) == ("v1.35.8", "command"):
            _thread.interrupt_main()  # Ctrl-C, while the command runs

    with pytest.raises(KeyboardInterrupt):
        matrices.run(made, opts, progress=progress)
    assert end_naming(tmp_path) == []  # the command, the hub, the spoke: none left
    assert said == [
        ("v1.35.8", "up"),
        ("v1.35.8", "command"),
        ("v1.35.8", "down"),
        ("v1.35.8", "failed"),
        ("v1.36.4", "skipped (interrupted)"),
    ]
    fleet = Fleet.from_path(work / "v1-35" / "fleet.yaml", state_dir=tmp_path / "state")
    assert not any(c.exists for c in fleet.status().clusters)


def test_a_fleet_goes_down_even_when_saying_so_fails(tmp_path):
    """`kindfleet matrix ... | head`: the output closes while the command runs, every line
    after fails; the fleet is taken down all the same."""
    from tests.procscan import end_naming

    from kindfleet import matrix as matrices

    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(name=f"mp{uuid.uuid4().hex[:6]}"))
    work = tmp_path / "work"
    opts = matrices.MatrixOptions(
        command=(sys.executable, "-c", "pass"),
        workdir=work,
        state_dir=tmp_path / "state",
        provider="local",
    )
    made = matrices.load_plan(path, matrices.parse_versions(["1.35"]), opts)

    def progress(version: str, what: str) -> None:
        if what != "up":
            raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):  # as the command's output gets it
        matrices.run(made, opts, progress=progress)
    assert end_naming(tmp_path) == []
    fleet = Fleet.from_path(work / "v1-35" / "fleet.yaml", state_dir=tmp_path / "state")
    assert not any(c.exists for c in fleet.status().clusters)
