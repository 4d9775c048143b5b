"""The testing kit as a stranger used it: `fleet_up` of a fleet that was up already (a
developer's `kindfleet up`, an enclosing `fleet_up`) took it down at its end; a path with a
typo was "not a valid fleet file"; `wait_for` overslept its timeout by a whole `poll`; an
ini file's `kindfleet_file` was read from the current directory."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from kindfleet import testing
from kindfleet.errors import KindfleetError, UsageError
from kindfleet.providers.local import LocalLayout, processes
from kindfleet.testing import fleet_up, load, wait_for

pytest_plugins = ["pytester"]

FLEET = """
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: reused
provider: local
spokes: 1
"""


@pytest.mark.slow
def test_a_fleet_that_was_up_already_is_left_up(tmp_path: Path):
    state = tmp_path / "state"
    hub = LocalLayout("reused", state).pidfile("reused-hub")
    with fleet_up(FLEET, state_dir=state) as outer:
        with fleet_up(FLEET, state_dir=state) as inner, inner.hub() as client:
            assert client.spokes()
        assert processes.running(hub) is not None  # the inner block did not take it down
        with outer.hub() as client:
            assert client.spokes()
    assert processes.running(hub) is None  # the block that brought it up did


def test_a_path_that_is_not_a_fleet_file_is_said_so(tmp_path: Path):
    for source, says in (
        (str(tmp_path / "locl.yaml"), "does not exist"),  # was "not a valid fleet file"
        (tmp_path / "missing.yaml", "does not exist"),  # was FileNotFoundError
        (tmp_path, "is a directory"),  # was IsADirectoryError
    ):
        with pytest.raises(KindfleetError, match=says):
            load(source)
    assert load(FLEET).name == "reused"  # text of more than one line is YAML


class Pending:
    """A hub whose workload never ends, on a clock that moves only when slept."""

    def __init__(self) -> None:
        self.now, self.slept = 0.0, []

    def get(self, workload: str) -> SimpleNamespace:
        return SimpleNamespace(state=SimpleNamespace(terminal=False, value="Running"))

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_wait_for_keeps_to_its_timeout_and_refuses_a_poll_of_no_time(monkeypatch):
    hub = Pending()
    monkeypatch.setattr(testing, "time", hub)
    with pytest.raises(KindfleetError, match="still Running after 1s"):
        wait_for(hub, "wl-x", timeout=1.0, poll=8.0)  # type: ignore[arg-type]
    assert hub.now == pytest.approx(1.0)  # not 8: the last sleep ends at the deadline
    for poll in (0.0, -1.0, float("nan")):
        with pytest.raises(UsageError, match="poll must be more than 0"):
            wait_for(hub, "wl-x", poll=poll)  # type: ignore[arg-type]


def test_an_ini_files_fleet_file_is_read_from_its_folder(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    pytester.makeini("[pytest]\nkindfleet_file = fleet/none.yaml\n")
    pytester.makepyfile(test_x="def test_x(kindfleet_fleet):\n    pass\n")
    monkeypatch.chdir(pytester.mkdir("sub"))
    result = pytester.runpytest_subprocess(
        str(pytester.path / "test_x.py"), "-p", "no:cacheprovider"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{pytester.path / 'fleet' / 'none.yaml'}*does not exist*"])
