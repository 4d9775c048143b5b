"""A workload run as a batch/v1 Job: names, labels, resources, GPU placement, and the
manifest validated against the Kubernetes schemas the fleet supports (strict)."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindfleet.platform.agent.executors.kubernetes.jobs import (
    JobOptions,
    job_manifest,
    owns,
    run_labels,
)
from kindfleet.platform.wire import (
    WORKLOAD_LABEL,
    WORKLOADS_NAMESPACE,
    WorkloadSpec,
    job_name,
    label_value,
)

OPTIONS = JobOptions(namespace="platform-workloads", spoke="spoke1", default_image="busybox:1.37")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
KUBERNETES_VERSIONS = ["1.34", "1.35", "1.36", "1.37"]


def _spec(**fields: object) -> WorkloadSpec:
    return WorkloadSpec.model_validate(
        {"name": "train", "command": ["python", "-c", "pass"], **fields}
    )


def _container(job: dict) -> dict:
    return job["spec"]["template"]["spec"]["containers"][0]


def test_a_hub_id_gives_a_readable_name_and_the_same_name_every_time():
    assert job_name("wl-0123456789abcdef0123", 3) == "wl-0123456789abcdef0123-g3"
    assert job_name("wl-0123456789abcdef0123", 3) == job_name("wl-0123456789abcdef0123", 3)
    assert job_name("wl-0123456789abcdef0123", 3) != job_name("wl-0123456789abcdef0123", 4)


def test_ids_that_clean_up_alike_still_get_different_names():
    a, b = job_name("Team_A/run", 1), job_name("team-a-run", 1)
    assert a != b
    assert DNS_LABEL.match(a)
    assert b == "team-a-run-g1"


@given(st.text(min_size=1, max_size=300), st.integers(min_value=0, max_value=10**9))
def test_every_id_gives_a_dns_label_of_at_most_63(workload, generation):
    name = job_name(workload, generation)
    assert len(name) <= 63
    assert DNS_LABEL.match(name), name
    assert name.endswith(f"-g{generation}")


@given(st.text(min_size=0, max_size=300))
def test_every_text_gives_a_valid_label_value(text):
    value = label_value(text)
    assert len(value) <= 63
    assert LABEL_VALUE.match(value), value


def test_the_job_carries_identity_fencing_token_and_spoke():
    job = job_manifest("wl-00000000000000000abc", 7, _spec(), OPTIONS)
    labels = job["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/managed-by": "kindfleet",
        "kindfleet.dev/workload": "wl-00000000000000000abc",
        "kindfleet.dev/generation": "7",
        "kindfleet.dev/spoke": "spoke1",
    }
    assert job["metadata"]["annotations"] == {
        "kindfleet.dev/workload-id": "wl-00000000000000000abc"
    }
    assert job["metadata"]["namespace"] == "platform-workloads"
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert pod_labels == {**labels, "kindfleet.dev/job": "wl-00000000000000000abc-g7"}


def test_the_platform_retries_not_the_job():
    job = job_manifest("w1", 1, _spec(timeout_seconds=90.5), OPTIONS)
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 91  # whole seconds, never shorter than asked
    assert spec["ttlSecondsAfterFinished"] == 600
    assert "activeDeadlineSeconds" not in job_manifest("w1", 1, _spec(), OPTIONS)["spec"]


def test_container_resources_image_command_and_env():
    spec = _spec(
        image="registry.local/train:1",
        command=["python", "train.py", "--epochs", "3"],
        env={"LR": "0.1", "KINDFLEET_WORKLOAD_ID": "spoofed"},
        resources={"cpu": "500m", "memory": "1Gi"},
    )
    c = _container(job_manifest("w1", 2, spec, OPTIONS))
    assert c["image"] == "registry.local/train:1"
    assert c["command"] == ["python", "train.py", "--epochs", "3"]
    assert c["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "1Gi"},
    }
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["LR"] == "0.1"
    assert env["KINDFLEET_WORKLOAD_ID"] == "w1"  # the spec cannot override the run's identity
    assert env["KINDFLEET_GENERATION"] == "2"
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void"  # no GPU for a run that asked for none
    assert [e["name"] for e in c["env"]].count("KINDFLEET_WORKLOAD_ID") == 1
    assert _container(job_manifest("w1", 1, _spec(), OPTIONS))["image"] == "busybox:1.37"


def test_gpus_ask_for_nvidia_gpus_on_gpu_nodes():
    job = job_manifest("w1", 1, _spec(resources={"gpu": 2}), OPTIONS)
    pod = job["spec"]["template"]["spec"]
    assert _container(job)["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert pod["nodeSelector"] == {"gpu": "true"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    env = {e["name"] for e in _container(job)["env"]}
    assert "NVIDIA_VISIBLE_DEVICES" not in env  # the device plugin sets it
    cpu_only = job_manifest("w1", 1, _spec(), OPTIONS)["spec"]["template"]["spec"]
    assert "nodeSelector" not in cpu_only
    assert (
        "nvidia.com/gpu"
        not in _container(job_manifest("w1", 1, _spec(), OPTIONS))["resources"]["limits"]
    )


def test_workload_pods_are_locked_down():
    pod = job_manifest("w1", 1, _spec(), OPTIONS)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = pod["containers"][0]["securityContext"]
    assert sc == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["terminationGracePeriodSeconds"] == 5


def test_owns_recognises_the_same_run_only():
    job = job_manifest("wl-1", 4, _spec(), OPTIONS)
    assert owns(job, "wl-1", 4, "spoke1")
    assert not owns(job, "wl-1", 5, "spoke1")  # another generation: a fenced copy
    assert not owns(job, "wl-2", 4, "spoke1")
    assert not owns(job, "wl-1", 4, "spoke2")
    stranger = {"metadata": {"name": job["metadata"]["name"], "labels": {"app": "x"}}}
    assert not owns(stranger, "wl-1", 4, "spoke1")
    # A long, odd id is matched exactly through the annotation, not its sanitised label.
    odd = "Team/" + "x" * 100
    assert owns(job_manifest(odd, 1, _spec(), OPTIONS), odd, 1, "spoke1")
    assert not owns(job_manifest(odd, 1, _spec(), OPTIONS), odd + "y", 1, "spoke1")
    assert run_labels(odd, 1, "spoke1")["kindfleet.dev/workload"] == label_value(odd)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"resources": {"cpu": "2", "memory": "4Gi", "gpu": 1}, "timeout_seconds": 3600},
        {"image": "python:3.12-slim", "env": {"A": "1", "B": ""}, "timeout_seconds": 0.2},
    ],
    ids=["minimal", "gpu-with-deadline", "image-env"],
)
def test_manifests_are_valid_jobs_for_every_supported_kubernetes(version, fields):
    job = job_manifest("wl-00000000000000000abc", 1, _spec(**fields), OPTIONS)
    kubernetes_validate.validate(job, version, strict=True)


def test_the_schema_check_can_fail():
    job = job_manifest("w1", 1, _spec(), OPTIONS)
    job["spec"]["backoffLimitt"] = 0
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, "1.35", strict=True)


def test_outside_tools_find_a_run_by_the_names_in_wire():
    """`kindfleet logs` on KIND selects pods by these, from wire alone: they must be what
    the agent puts on its Jobs."""
    options = JobOptions(namespace=WORKLOADS_NAMESPACE, spoke="spoke1")
    job = job_manifest("Odd Id/1", 3, _spec(), options)
    assert job["metadata"]["name"] == job_name("Odd Id/1", 3)
    assert job["metadata"]["namespace"] == "platform-workloads"
    assert job["metadata"]["labels"][WORKLOAD_LABEL] == label_value("Odd Id/1")
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["kindfleet.dev/workload"] == label_value("Odd Id/1")
