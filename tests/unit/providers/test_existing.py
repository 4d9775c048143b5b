"""Provider existing against a real Kubernetes API answering real kubectl (the double's
API server as a local process, with TLS): `up` checks reachability and versions, `down`
leaves the clusters and the user's kubeconfig alone."""

import shutil

import pytest
import yaml

from kindfleet import Fleet
from kindfleet.errors import PartialFailure, PrerequisiteError
from kindfleet.providers.base import ProviderSettings
from kindfleet.providers.existing import ExistingProvider, version_notes
from tests.doubles.kind_double import local_api

pytestmark = pytest.mark.skipif(bool(local_api.available()), reason=str(local_api.available()))

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: prod
provider: existing
kubernetesVersion: "1.35"
hub: {context: eks-hub}
spokes:
  - {name: gke-spoke, context: gke-spoke}
"""


@pytest.fixture(scope="module")
def api():
    cluster = {
        "name": "eks",
        "version": "v1.35.2",
        "nodes": [
            {"name": "ip-10-0-0-1", "role": "control-plane", "labels": {}},
            {"name": "ip-10-0-0-2", "role": "worker", "labels": {"pool": "gpu"}},
        ],
    }
    with local_api.serve(cluster) as served:
        yield served


@pytest.fixture
def kubeconfig(api, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # kubectl's discovery cache goes here
    config = api.kubeconfig("eks-hub")
    closed = local_api.Api("https://127.0.0.1:9", api.pki).kubeconfig("gke-spoke")
    for section in ("clusters", "users", "contexts"):
        config[section] += closed[section]
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    return path


def test_up_checks_each_context_and_names_the_unreachable_one(kubeconfig):
    fleet = Fleet.from_text(FLEET)
    events = []
    with pytest.raises(PartialFailure) as caught:
        fleet.up(kubeconfig=kubeconfig, progress=events.append)
    assert list(caught.value.failed) == ["gke-spoke"]
    assert "gke-spoke (context gke-spoke) does not answer" in caught.value.failed["gke-spoke"]
    notes = [e.message for e in events if e.cluster == "prod-hub" and e.phase in ("note", "warn")]
    assert "reachable, Kubernetes v1.35.2" in notes
    hub = next(o for o in caught.value.result.outcomes if o.name == "prod-hub")
    assert (hub.ok, hub.action) == (True, "check")


def test_a_missing_context_is_a_prerequisite_with_a_fix(kubeconfig):
    provider = ExistingProvider.from_settings(ProviderSettings(kubeconfig=kubeconfig))
    fleet = Fleet.from_text(FLEET.replace("context: eks-hub", "context: aks-hub"))
    with pytest.raises(PrerequisiteError) as caught:
        provider.check(fleet.spec.hub)
    assert caught.value.message == f"prod-hub: context 'aks-hub' is not in {kubeconfig}"
    assert "kubectl config get-contexts" in caught.value.hint


def test_status_reads_nodes_versions_and_endpoint(kubeconfig, api):
    state = Fleet.from_text(FLEET).status(kubeconfig=kubeconfig)
    hub, spoke = state.clusters
    assert (hub.exists, hub.ready, hub.kubernetes_version, hub.endpoint) == (
        True,
        True,
        "v1.35.2",
        api.url,
    )
    assert [(n.name, n.role, n.ready) for n in hub.nodes] == [
        ("ip-10-0-0-1", "control-plane", True),
        ("ip-10-0-0-2", "worker", True),
    ]
    assert hub.nodes[1].labels["pool"] == "gpu"
    assert (spoke.exists, spoke.ready) == (False, False)
    assert spoke.message.startswith("gke-spoke (context gke-spoke) does not answer")


def test_down_leaves_clusters_and_kubeconfig_alone(kubeconfig):
    before = kubeconfig.read_bytes()
    events = []
    result = Fleet.from_text(FLEET).down(kubeconfig=kubeconfig, progress=events.append)
    assert [o.action for o in result.outcomes] == ["leave", "leave"]
    assert {e.message for e in events} == {"left alone: provider existing does not own it"}
    assert kubeconfig.read_bytes() == before


def test_kubeconfig_of_one_context_is_standalone(kubeconfig, api):
    text = Fleet.from_text(FLEET).kubeconfig("prod-hub", kubeconfig=kubeconfig)
    data = yaml.safe_load(text)
    assert [c["name"] for c in data["contexts"]] == ["eks-hub"]
    assert data["clusters"][0]["cluster"]["server"] == api.url
    assert "certificate-authority-data" in data["clusters"][0]["cluster"]


def test_version_notes():
    assert version_notes("v1.35.8", "v1.35.2", "v1.35.0") == []
    assert version_notes("v1.37.0", "v1.33.1-eks-1", "v1.33.0") == [
        "runs Kubernetes v1.33.1-eks-1, the fleet file says v1.37.0"
    ]
    assert "outside kubectl's supported skew" in version_notes("v1.35.0", "v1.35.0", "v1.32.4")[0]


def test_kubectl_is_needed(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    said = ExistingProvider().availability()
    assert (said.ok, said.reason) == (False, "kubectl not found on PATH")
    assert shutil.which("kubectl") is None
