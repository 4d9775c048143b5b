"""`kindfleet load --report`: a folder that cannot be written is refused before anything is
sent (it was found after the whole run, and the run's figures went with it), and when the
report still cannot be written at the end, the summary is printed all the same."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import kindfleet
import kindfleet.load
from kindfleet.errors import PrerequisiteError, UsageError
from kindfleet.load import LoadResult

FLEET = "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: rp\nprovider: local\nspokes: 1\n"


@pytest.fixture
def load(cli, tmp_path: Path, monkeypatch):
    """`kindfleet load` on a fleet that is not up, whose run must not start."""
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "fleet.yaml").write_text(FLEET)

    def sent(*_: object, **__: object) -> None:
        raise AssertionError("the load was run")

    monkeypatch.setattr(kindfleet.load, "run", sent)
    return lambda *args: cli("load", "-f", str(tmp_path / "fleet.yaml"), "-n", "5", *args)


@pytest.mark.parametrize(
    ("report", "says"),
    [
        ("afile/x", "afile is a file; the report is a folder"),
        ("/proc/nope", "/proc/nope: cannot write there"),
        ("rep", "report.json is a folder, not a file"),
    ],
)
def test_a_report_folder_that_cannot_be_written_is_refused_before_the_run(
    load, tmp_path: Path, monkeypatch, report: str, says: str
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    (tmp_path / "rep/report.json").mkdir(parents=True)
    result = load("--report", report)
    assert result.code == 2, result.err
    assert f"--report {report}: " in result.err and says in result.err, result.err
    assert "or leave out --report" in result.err and "Traceback" not in result.err


def test_an_empty_duration_is_refused_as_other_durations_are(load):
    result = load("--duration", "")
    assert result.code == 2, result.err
    assert "--duration '' is not a duration" in result.err


def test_a_report_that_cannot_be_written_at_the_end_leaves_the_summary(
    load, tmp_path: Path, monkeypatch
):
    """The folder was fine when the run began; by its end report.html cannot be written
    (here a folder took its place). `Fleet.load` writes it, as it does after a run."""
    report = tmp_path / "rep"

    def ran(*_: object, **__: object) -> LoadResult:
        (report / "report.html").mkdir(parents=True)
        return LoadResult(
            fleet="rp", requests=5, accepted=5, errors={}, lost=0, duplicated=0,
            submit_seconds=1.0, total_seconds=2.0, per_spoke={"rp-spoke1": 5},
            states={"Succeeded": 5},
        )  # fmt: skip

    monkeypatch.setattr(kindfleet.load, "run", ran)
    result = load("--report", str(report))
    assert result.code == 1, result.err
    assert "accepted 5/5" in result.err and "lost 0, duplicated 0" in result.err
    assert f"report not written: {report / 'report.html'}" in result.err
    assert f"{report / 'report.json'} written" in result.err and "Traceback" not in result.err
    assert json.loads((report / "report.json").read_text())["accepted"] == 5


def test_a_report_without_matplotlib_is_refused_before_the_run(load, tmp_path: Path, monkeypatch):
    """The page's plots need matplotlib (an extra): found missing after the run, it cost
    the run's report page and said so only then."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    result = load("--report", str(tmp_path / "rep"))
    assert result.code == 3, result.err
    assert "the HTML report needs matplotlib" in result.err, result.err
    assert "install kindfleet[report], or leave out --report" in result.err


@pytest.mark.parametrize("missing", [False, True])
def test_the_python_api_refuses_a_report_before_the_run(tmp_path: Path, monkeypatch, missing):
    """`Fleet.load(report=...)` ran the whole load, then failed on the folder (the CLI
    alone checked it first)."""

    def sent(*_: object, **__: object) -> None:
        raise AssertionError("the load was run")

    monkeypatch.setattr(kindfleet.load, "run", sent)
    (tmp_path / "afile").write_text("")
    report = tmp_path / ("rep" if missing else "afile/rep")
    if missing:
        monkeypatch.setitem(sys.modules, "matplotlib", None)
    fleet = kindfleet.Fleet.from_text(FLEET, state_dir=tmp_path / "state")
    error = PrerequisiteError if missing else UsageError
    with pytest.raises(error) as caught:
        fleet.load(report=report)
    says = "needs matplotlib" if missing else f"report={report}: {tmp_path / 'afile'} is a file"
    assert says in caught.value.message, caught.value.message
    assert "leave out report=" in (caught.value.hint or "")
