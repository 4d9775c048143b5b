"""What goes wrong, with the kind double and the real engine: a cluster whose creation
fails is removed and named, a host port someone holds is caught before anything starts
(and, when that check is skipped, fails the one cluster cleanly), and Ctrl-C leaves
nothing half-made."""

import signal
import socket
import subprocess
import sys
import time

import pytest
from tests.integration.docker.conftest import free_port
from tests.integration.docker.helpers import docker_lines, fleet_file
from tests.unit.lifecycle.conftest import CALICO

from kindfleet import Fleet
from kindfleet import kubeconfig as kc
from kindfleet.errors import PartialFailure, PrerequisiteError

pytestmark = [pytest.mark.docker, pytest.mark.slow]

NOT_HERE = {"inotify"}


def leftovers(name):
    return [n for n in docker_lines("ps", "-a", "--format", "{{.Names}}") if n.startswith(name)]


def test_a_failed_cluster_is_removed_and_named_and_the_rest_come_up(
    double, name, tmp_path, monkeypatch
):
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet_file(name, spokes=2, calico=False))
    monkeypatch.setenv("KIND_DOUBLE_FAIL", f"{name}-spoke2")
    fleet = Fleet.from_path(path)
    with pytest.raises(PartialFailure) as caught:
        fleet.up(kubeconfig=double.kubeconfig, skip_checks=NOT_HERE)
    assert caught.value.exit_code == 4
    assert list(caught.value.failed) == [f"{name}-spoke2"], caught.value.message
    assert "failed to init node with kubeadm" in caught.value.failed[f"{name}-spoke2"]
    assert sorted(leftovers(name)) == sorted(
        f"{c}-{r}" for c in (f"{name}-hub", f"{name}-spoke1") for r in ("control-plane", "worker")
    )
    contexts = kc.context_names(kc.KubeconfigFile(double.kubeconfig).read())
    assert sorted(contexts) == [f"kind-{name}-hub", f"kind-{name}-spoke1"]
    # fixed, `up` again creates only what is missing
    monkeypatch.delenv("KIND_DOUBLE_FAIL")
    again = fleet.up(kubeconfig=double.kubeconfig, skip_checks=NOT_HERE)
    assert [o.action for o in again.outcomes] == ["keep", "keep", "create"]
    fleet.down(kubeconfig=double.kubeconfig)
    assert leftovers(name) == []


def test_a_held_host_port_is_caught_before_anything_starts(double, name, tmp_path):
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        port = held.getsockname()[1]
        path = tmp_path / "fleet.yaml"
        path.write_text(fleet_file(name, spokes=1, calico=False, hub_port=port))
        fleet = Fleet.from_path(path)
        with pytest.raises(PrerequisiteError) as caught:
            fleet.up(kubeconfig=double.kubeconfig, skip_checks=NOT_HERE)
        assert (
            f"host port 0.0.0.0:{port}/tcp (node {name}-hub-control-plane) is in use"
            in caught.value.message
        )
        assert leftovers(name) == []
        # past the check, docker refuses the bind: that cluster fails, is removed; the spoke is up
        with pytest.raises(PartialFailure) as failed:
            fleet.up(kubeconfig=double.kubeconfig, skip_checks=NOT_HERE | {"ports"})
    assert list(failed.value.failed) == [f"{name}-hub"]
    assert (
        "address already in use" in failed.value.failed[f"{name}-hub"]
        or "port is already allocated" in failed.value.failed[f"{name}-hub"]
    )
    assert sorted(leftovers(name)) == [f"{name}-spoke1-control-plane", f"{name}-spoke1-worker"]
    fleet.down(kubeconfig=double.kubeconfig)
    assert leftovers(name) == []


def test_ctrl_c_leaves_nothing_half_made(double, registry_image, name, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet_file(name, registry_image=registry_image, port=free_port(), spokes=2))
    env = {**double.env, "KIND_DOUBLE_DELAY": "60", "KINDFLEET_CALICO_MANIFEST": str(CALICO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kindfleet", "up", "-f", str(path), "--skip-check", "inotify"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        expected = {f"{name}-{c}-control-plane" for c in ("hub", "spoke1", "spoke2")}
        while not expected <= set(leftovers(name)):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(
                    f"kindfleet up ended early ({proc.returncode}):\n{proc.communicate()[1]}"
                )
            time.sleep(0.2)
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - interrupted < 30  # kind was stopped, not waited for
    assert "error: interrupted: clusters whose creation had begun were removed" in err
    assert " • " in err and "removing" in err
    assert leftovers(name) == []  # nodes and the registry this run created
    assert (
        not double.kubeconfig.exists()
        or kc.context_names(kc.KubeconfigFile(double.kubeconfig).read()) == []
    )
