"""`kindfleet demo` end to end: real processes, and it must show what it claims."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tests.procscan import end_naming

from kindfleet.demo.run import run_demo

pytestmark = pytest.mark.slow


class Recorder:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self.updates = 0

    def step(self, message: str) -> None:
        self.steps.append(message)

    def progress(self, workloads, latest) -> None:
        self.updates += 1


def test_demo_routes_work_to_the_right_spokes_and_tears_down(tmp_path):
    view = Recorder()
    result = run_demo(view, name="demotest", state_dir=tmp_path / "state", timeout=40)

    assert result.lost == 0
    assert result.submitted == len(result.workloads) == 14
    by_name = {w.spec.name: w for w in result.workloads}
    for name, w in by_name.items():
        if name.startswith("train-gpu"):
            assert w.state.value == "Succeeded"
            assert w.spoke == "demotest-gpu"  # GPU work only where the GPUs are
            assert result.latest[w.id]["loss"] > 0  # its metrics came back as telemetry
        if name.startswith("preprocess"):
            assert w.spoke in ("demotest-cpu1", "demotest-cpu2")
        if name.startswith("flaky"):
            assert w.state.value == "Succeeded"
            assert w.generation == 2
            assert w.retries_used == 1
    assert {w.spoke for n, w in by_name.items() if n.startswith("preprocess")} == {
        "demotest-cpu1",
        "demotest-cpu2",
    }  # spread over both CPU spokes
    too_big = by_name["train-8-gpus"]
    assert too_big.state.value == "Expired"
    verdicts = {v.spoke: v for v in result.explanations[too_big.id].considered}
    assert "needs 8 GPUs, 2 free" in " ".join(verdicts["demotest-gpu"].reasons) or any(
        "8 GPUs" in r for r in verdicts["demotest-gpu"].reasons
    )
    assert view.updates > 0
    assert any(s.startswith("dashboard at http://127.0.0.1:") for s in view.steps)
    assert "tearing the fleet down" in view.steps[-1]
    assert not (tmp_path / "state" / "demotest").exists()  # down removed every trace


def test_a_ctrl_c_once_the_fleet_is_up_leaves_no_process_and_no_directory():
    """The demo's fleet is torn down from its first process on, and the directory the
    demo made for it is removed with it."""

    class Interrupting(Recorder):
        def step(self, message: str) -> None:
            super().step(message)
            if message.startswith("hub at"):
                raise KeyboardInterrupt

    view = Interrupting()
    with pytest.raises(KeyboardInterrupt):
        run_demo(view, name="demoint", timeout=40)
    found = re.search(r"state in (\S+)", view.steps[0])
    assert found, view.steps
    root = Path(found.group(1))
    assert end_naming(root) == []
    assert view.steps[-1] == "tearing the fleet down"
    assert not root.exists(), sorted(str(p) for p in root.rglob("*"))


def test_a_demo_beside_another_is_a_fleet_of_its_own_and_keep_says_how_to_end_it(
    tmp_path, monkeypatch
):
    """Two demos at once on one machine are two fleets of the same name: the second
    failed on the first's lock (in the shared state directory) and left its directory.
    Each keeps all of its state in its own directory. With --keep the fleet is left as a
    fleet file the other commands take, and the step says how."""
    from kindfleet import Fleet
    from kindfleet.lifecycle import fleetlock

    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "shared"))
    view = Recorder()
    with fleetlock.hold("demokeep", "up"):  # another demo of that name, coming up
        result = run_demo(view, name="demokeep", timeout=40, keep=True)
    assert result.lost == 0 and result.submitted == 14
    said = view.steps[-1]
    found = re.search(r"`KINDFLEET_STATE_DIR=(\S+) kindfleet workloads -f (\S+)`", said)
    assert found, view.steps
    root, path = Path(found.group(1)), Path(found.group(2))
    fleet = Fleet.from_path(path, state_dir=root)
    try:
        assert all(c.ready for c in fleet.status().clusters)
    finally:
        fleet.down()
    assert end_naming(root) == []
    assert sorted(p.name for p in root.iterdir()) == ["fleet.yaml"]  # down took the rest
    shutil.rmtree(root)
