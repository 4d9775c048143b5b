"""The agent's flags for the kubernetes executor: where Jobs go, which cluster, and where
the spoke's capacity comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from kindfleet.errors import UsageError
from kindfleet.platform.agent.executors.factory import ReportsCapacity, make_executor
from kindfleet.platform.agent.executors.kubernetes.executor import KubernetesExecutor
from kindfleet.platform.agent.executors.kubernetes.options import KubeOptions
from kindfleet.platform.agent.executors.process.executor import ProcessExecutor
from kindfleet.platform.agent.settings import parse_args

BASE = ["--hub", "http://h:1", "--name", "spoke1", "--state-dir", "/tmp/s"]
BASE += ["--bootstrap-token-file", "/tmp/t"]


def test_the_orchestrator_s_flags(tmp_path: Path):
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\n")
    s = parse_args(
        [
            *BASE,
            "--executor", "kubernetes",
            "--namespace", "team-a",
            "--kubeconfig", str(config),
            "--context", "kind-spoke1",
            "--job-image", "kindfleet/platform:dev",
            "--job-ttl-seconds", "60",
            "--stop-grace-seconds", "2.5",
        ]
    )  # fmt: skip
    assert (s.namespace, s.kubeconfig, s.context) == ("team-a", config, "kind-spoke1")
    assert s.capacity_from_cluster  # no --cpu/--memory/--gpus: the nodes say
    kube = KubeOptions.from_agent(s)
    assert kube.job.namespace == "team-a"
    assert kube.job.spoke == "spoke1"
    assert kube.job.default_image == "kindfleet/platform:dev"
    assert kube.job.ttl_seconds_after_finished == 60
    assert kube.job.termination_grace_seconds == 3
    executor = make_executor(s)
    assert isinstance(executor, KubernetesExecutor)
    assert isinstance(executor, ReportsCapacity)


def test_explicit_capacity_wins_and_the_process_executor_is_unchanged():
    s = parse_args([*BASE, "--executor", "kubernetes", "--cpu", "2"])
    assert not s.capacity_from_cluster
    assert (s.capacity.cpu_millis, s.capacity.memory_bytes) == (2000, 8 << 30)
    p = parse_args(BASE)
    assert not p.capacity_from_cluster
    assert (p.namespace, p.kubeconfig, p.context) == ("platform-workloads", None, None)
    assert isinstance(make_executor(p), ProcessExecutor)
    assert not isinstance(make_executor(p), ReportsCapacity)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--namespace", "Team_A"], "DNS-1123"),
        (["--job-ttl-seconds", "-1"], "job-ttl-seconds"),
        (["--job-image", " "], "job-image"),
        (["--kube-resync-seconds", "0"], "kube-resync-seconds"),
    ],
)
def test_bad_values_are_usage_errors(flags, message):
    with pytest.raises(UsageError, match=message):
        parse_args([*BASE, "--executor", "kubernetes", *flags])


def test_a_missing_kubeconfig_is_a_usage_error(tmp_path: Path):
    s = parse_args([*BASE, "--executor", "kubernetes", "--kubeconfig", str(tmp_path / "x")])
    with pytest.raises(UsageError, match="does not exist"):
        make_executor(s)
