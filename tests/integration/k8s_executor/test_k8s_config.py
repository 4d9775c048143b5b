"""Which cluster the executor talks to and with what identity, and what it says when it
cannot: a private client configuration, a kubeconfig context chosen explicitly, in-cluster
detection, and errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes_asyncio.client import Configuration

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.agent.executors.kubernetes.api import (
    KubeTarget,
    in_cluster,
    load_configuration,
)


async def test_the_context_is_chosen_and_the_global_default_is_untouched(kubeconfig, cluster):
    before = Configuration.get_default_copy().host
    cfg = await load_configuration(KubeTarget(kubeconfig, "fake"))
    assert cfg.host == str(cluster.url).rstrip("/")
    assert Configuration.get_default_copy().host == before


async def test_an_unknown_context_is_a_prerequisite_error(kubeconfig):
    with pytest.raises(PrerequisiteError, match="context 'kind-nope'") as caught:
        await load_configuration(KubeTarget(kubeconfig, "kind-nope"))
    assert "get-contexts" in (caught.value.hint or "")


async def test_no_kubeconfig_and_no_pod_is_a_prerequisite_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(PrerequisiteError, match="no Kubernetes API") as caught:
        await load_configuration(KubeTarget())
    assert "--kubeconfig" in (caught.value.hint or "")


def test_in_cluster_needs_the_service_host_and_the_token(tmp_path: Path):
    token = tmp_path / "token"
    assert not in_cluster({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, token)
    token.write_text("t")
    assert in_cluster({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, token)
    assert not in_cluster({}, token)


async def test_nodes_that_cannot_be_read_say_why(cluster, executor):
    cluster["get /api/v1/nodes"] << 403 << {"kind": "Status", "message": "nodes is forbidden"}
    with pytest.raises(PrerequisiteError, match=r"403.*nodes is forbidden") as caught:
        await executor.capacity()
    assert "list nodes" in (caught.value.hint or "")
