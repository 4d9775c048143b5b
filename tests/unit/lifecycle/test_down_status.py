"""`down` and `status` over a fake provider."""

import pytest

from kindfleet import kubeconfig as kc
from kindfleet.errors import PartialFailure
from kindfleet.lifecycle import DownOptions, UpOptions, down, status, up
from tests.doubles.fakeprovider import FakeProvider


@pytest.fixture
def running(spec, tmp_path, calico_manifest):
    provider = FakeProvider()
    target = tmp_path / "kubeconfig"
    up(spec, provider, UpOptions(kubeconfig=target, calico_manifest=calico_manifest))
    return provider, target


def test_down_removes_clusters_contexts_registry_and_leftovers(spec, running):
    provider, target = running
    events = []
    result = down(spec, provider, DownOptions(kubeconfig=target), report=events.append)
    assert provider.clusters == {} and provider.registry is None
    assert ("tidy",) in provider.log
    assert sorted(result.contexts_removed) == [f"kind-{c.name}" for c in spec.clusters]
    assert result.registry_removed and result.tidied == ("network kind",)
    config = kc.KubeconfigFile(target).read()
    assert kc.context_names(config) == [] and config["current-context"] == ""
    assert {e.cluster for e in events if e.step == "deleted"} == {c.name for c in spec.clusters}


def test_down_of_one_cluster_keeps_the_rest_and_the_registry(spec, running):
    provider, target = running
    result = down(spec, provider, DownOptions(kubeconfig=target, clusters=("t-spoke2",)))
    assert set(provider.clusters) == {"t-hub", "t-spoke1", "t-spoke3"}
    assert provider.registry == "running" and ("tidy",) not in provider.log
    assert result.contexts_removed == ("kind-t-spoke2",)
    assert "kind-t-spoke2" not in kc.context_names(kc.KubeconfigFile(target).read())


def test_down_twice_is_fine(spec, running):
    provider, target = running
    down(spec, provider, DownOptions(kubeconfig=target))
    again = down(spec, provider, DownOptions(kubeconfig=target))
    assert [o.notes for o in again.outcomes] == [("did not exist",)] * 4
    assert not again.failed


def test_down_names_what_it_could_not_remove(spec, running):
    provider, target = running

    def stuck(fleet, cluster):
        if cluster == "t-spoke1":
            from kindfleet.errors import KindfleetError

            raise KindfleetError("docker rm: device or resource busy")
        provider.clusters.pop(cluster)

    provider.delete = stuck  # type: ignore[method-assign]
    with pytest.raises(PartialFailure) as caught:
        down(spec, provider, DownOptions(kubeconfig=target))
    assert list(caught.value.failed) == ["t-spoke1"]
    assert "kind-t-spoke1" in kc.context_names(kc.KubeconfigFile(target).read())
    assert provider.registry == "running"  # still used by t-spoke1


def test_status_asks_every_cluster_and_the_registry(spec, running):
    provider, _ = running
    provider.clusters.pop("t-spoke3")
    state = status(spec, provider)
    assert [(c.name, c.exists, c.ready) for c in state.clusters] == [
        ("t-hub", True, True),
        ("t-spoke1", True, True),
        ("t-spoke2", True, True),
        ("t-spoke3", False, False),
    ]
    assert state.registry is not None and state.registry.running
    assert not state.ready
    data = state.to_dict()
    assert data["clusters"][0]["nodes"][0]["name"] == "t-hub-control-plane"
    assert data["registry"]["endpoint"] == "localhost:5099"


def test_a_read_only_kubeconfig_stops_down_before_anything_is_deleted(spec, running):
    """Found from outside: the clusters were deleted, then the read-only kubeconfig was
    refused, and the registry and network were left behind."""
    provider, target = running
    target.chmod(0o400)
    with pytest.raises(kc.KubeconfigError, match="read-only"):
        down(spec, provider, DownOptions(kubeconfig=target))
    assert set(provider.clusters) == {c.name for c in spec.clusters}
    assert provider.registry == "running"
