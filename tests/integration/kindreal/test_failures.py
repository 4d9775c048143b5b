"""What goes wrong, with the real kind: a host port someone holds (caught before anything
starts; past the check, the one cluster fails and is removed, the other comes up), and a
run that ends badly (two `up`s racing, `kill -9` of kindfleet, Ctrl-C, the Docker daemon
gone mid-run) followed by the `up` that must put it right. Small clusters of one node
each, made for these tests and removed by them."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.kindreal.fleets import NOT_HERE, KindfleetEnv, containers
from tests.integration.kindreal.harness import PREFIX

from kindfleet import kubeconfig as kc
from kindfleet.errors import PartialFailure, PrerequisiteError

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SMALL = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: {name}
nodeImage: {node_image}
hub:
  nodes: [{{role: control-plane{mapping}}}]
spokes:
  count: 1
  template:
    nodes: [{{role: control-plane}}]
{spoke_extra}"""
# kubeadm refuses to deploy a control plane older than its own minor version minus one
TOO_OLD = """\
    kindConfig:
      kubeadmConfigPatches:
        - |
          kind: ClusterConfiguration
          kubernetesVersion: v1.1.0
"""


def small(env: KindfleetEnv, name: str, mapping: str = "", spoke_extra: str = "") -> Path:
    text = SMALL.format(name=name, node_image=env.kind.node_image, mapping=mapping,
                        spoke_extra=spoke_extra)  # fmt: skip
    return env.write(name, text)


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def kind_creates(name: str) -> list[int]:
    """Our own `kind create cluster --name <name>...` processes still running (read from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"create" in argv and any(a.startswith(name.encode()) for a in argv):
            found.append(int(proc.name))
    return found


def test_a_held_host_port_is_caught_first_and_past_the_check_fails_one_cluster(
    kindfleet_env: KindfleetEnv,
) -> None:
    name = f"{PREFIX}p"
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        port = held.getsockname()[1]
        path = small(
            kindfleet_env, name, f", portMappings: [{{containerPort: 30080, hostPort: {port}}}]"
        )
        fleet = kindfleet_env.fleet(path)
        kubeconfig = kindfleet_env.base / f"{name}.kubeconfig"
        with pytest.raises(PrerequisiteError) as caught:
            fleet.up(kubeconfig=kubeconfig, skip_checks=NOT_HERE)
        assert f"host port 0.0.0.0:{port}/tcp (node {name}-hub-control-plane) is in use" in (
            caught.value.message
        )
        assert containers(name) == []
        with pytest.raises(PartialFailure) as failed:
            fleet.up(kubeconfig=kubeconfig, skip_checks=NOT_HERE | {"ports"})
    assert list(failed.value.failed) == [f"{name}-hub"]
    why = failed.value.failed[f"{name}-hub"]
    assert "kind could not create" in why and ("address already in use" in why or
                                               "port is already allocated" in why)  # fmt: skip
    assert containers(name) == [f"{name}-spoke1-control-plane"]
    assert kc.context_names(kc.KubeconfigFile(kubeconfig).read()) == [f"kind-{name}-spoke1"]
    fleet.down(kubeconfig=kubeconfig)
    assert containers(name) == []


def test_a_run_that_ends_badly_is_put_right_by_the_next_up(kindfleet_env: KindfleetEnv) -> None:
    env, name = kindfleet_env, f"{PREFIX}k"
    path = small(env, name)
    kubeconfig = env.base / f"{name}.kubeconfig"
    up = ["up", "-f", str(path), "--kubeconfig", str(kubeconfig), *env.up_args()]
    both = {f"{name}-hub-control-plane", f"{name}-spoke1-control-plane"}

    # two `up`s racing: the second is refused at once and names the first
    first = subprocess.Popen([sys.executable, "-m", "kindfleet", *up], env=env.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        until(lambda: both <= set(containers(name)), 120, "both clusters' node containers")
        second = env.cli(*up, timeout=60)
        assert second.returncode == 3, second.stderr
        assert f"fleet {name} is being changed by `kindfleet up` (pid {first.pid}" in second.stderr
        # kill -9 of the first: its `kind create`s die with it, nothing runs on unattended
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        until(lambda: not kind_creates(name), 10, "the killed kindfleet's kind commands to end")
    finally:
        if first.poll() is None:
            first.kill()
    again = env.cli(*up)
    assert again.returncode == 0, again.stderr
    assert f"fleet {name} is up: 2 clusters" in again.stderr
    assert env.fleet(path).status().ready

    # Ctrl-C while the spoke is made again: it goes, the hub (up before) stays
    assert env.cli("down", "-f", str(path), "--cluster", f"{name}-spoke1").returncode == 0
    interrupted = subprocess.Popen([sys.executable, "-m", "kindfleet", *up], env=env.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        until(lambda: f"{name}-spoke1-control-plane" in containers(name), 120, "the spoke's node")
        interrupted.send_signal(signal.SIGINT)
        _, err = interrupted.communicate(timeout=60)
    finally:
        if interrupted.poll() is None:
            interrupted.kill()
    assert interrupted.returncode == 130, err
    assert "error: interrupted: clusters it had begun and not finished were removed" in err
    assert containers(name) == [f"{name}-hub-control-plane"]

    # the Docker daemon gone mid-run: one clear error; back, and `up` finishes the job
    down_file = env.base / f"{name}.docker-down"
    extra = {"KINDNODE_DOCKER_DOWN": str(down_file)}
    dying = subprocess.Popen([sys.executable, "-m", "kindfleet", *up], env={**env.env, **extra},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        until(lambda: f"{name}-spoke1-control-plane" in containers(name), 120, "the spoke's node")
        down_file.touch()
        _, err = dying.communicate(timeout=120)
    finally:
        if dying.poll() is None:
            dying.kill()
    assert dying.returncode in (1, 4), err
    assert "Docker engine not reachable: Cannot connect to the Docker daemon" in err
    assert "Traceback" not in err
    down_file.unlink()
    healed = env.cli(*up, extra=extra)
    assert healed.returncode == 0, healed.stderr
    assert env.fleet(path).status().ready
    assert env.cli("down", "-f", str(path), "--kubeconfig", str(kubeconfig)).returncode == 0
    assert containers(name) == []


def test_a_failed_cluster_is_removed_after_its_logs_were_collected(
    kindfleet_env: KindfleetEnv,
) -> None:
    """`up --logs-dir`: kind keeps the failed nodes (--retain), kindfleet reads them with
    `kind export logs`, then removes them: kind's CI's artifacts, without the leftovers."""
    name = f"{PREFIX}l"
    path = small(kindfleet_env, name, spoke_extra=TOO_OLD)
    logs = kindfleet_env.base / f"{name}-logs"
    result = kindfleet_env.cli("up", "-f", str(path), "--kubeconfig",
                               str(kindfleet_env.base / f"{name}.kubeconfig"),
                               "--logs-dir", str(logs), "-o", "json",
                               *kindfleet_env.up_args())  # fmt: skip
    assert result.returncode == 4, result.stderr
    # -o json says what came up and what did not, failed or not
    outcomes = {o["name"]: o for o in json.loads(result.stdout)["outcomes"]}
    assert outcomes[f"{name}-hub"]["ok"] and not outcomes[f"{name}-spoke1"]["ok"]
    assert outcomes[f"{name}-spoke1"]["removed"]
    spoke = f"{name}-spoke1"
    assert "[ERROR KubernetesVersion]" in result.stderr
    assert f"(its logs: {logs / spoke})" in result.stderr
    node = logs / spoke / f"{spoke}-control-plane"
    assert "Reached target multi-user.target" in (node / "serial.log").read_text()
    assert (node / "kubelet.log").exists() and (node / "containerd.log").exists()
    assert containers(spoke) == []  # removed once read
    assert kindfleet_env.cli("down", "-f", str(path)).returncode == 0
    assert containers(name) == []
