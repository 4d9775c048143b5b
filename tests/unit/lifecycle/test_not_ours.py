"""KIND names clusters machine-wide: a cluster with one of the fleet's names may be a
user's own (`kind create cluster --name X`) or another fleet file's. `up` took it over
(its registry wired in, its context merged, made anew when not Ready) and `down` deleted it
with its context. Now both leave it alone and say whose it is; and a cluster that appears
while `up` creates one of that name is not removed as a failed create of ours would be."""

from __future__ import annotations

import pytest

from kindfleet import kubeconfig as kc
from kindfleet.errors import PartialFailure
from kindfleet.lifecycle import DownOptions, UpOptions, down, up
from kindfleet.lifecycle.results import NOT_OURS
from tests.doubles.fakeprovider import FakeProvider, kind_kubeconfig


def _theirs(provider: FakeProvider, name: str) -> None:
    provider.clusters[name] = {"ready": True, "calico": False, "cni": "kindnet"}
    provider.clusters[name]["foreign"] = "not made by kindfleet"


def test_up_leaves_a_cluster_that_is_not_the_fleets_alone(spec, tmp_path, calico_manifest):
    provider = FakeProvider()
    _theirs(provider, "t-spoke1")
    with pytest.raises(PartialFailure) as caught:
        up(spec, provider, UpOptions(kubeconfig=tmp_path / "kc", calico_manifest=calico_manifest))
    assert provider.steps("t-spoke1") == []  # not made anew, wired, applied to or deleted
    failed = caught.value.result.failed
    assert set(failed) == {"t-spoke1"}
    assert "is not this fleet's (not made by kindfleet): left alone" in failed["t-spoke1"]
    assert "kind delete cluster --name t-spoke1" in failed["t-spoke1"]
    assert "kind-t-spoke1" not in kc.context_names(kc.KubeconfigFile(tmp_path / "kc").read())
    assert {"t-hub", "t-spoke2", "t-spoke3"} <= set(provider.clusters)


def test_up_leaves_a_hub_that_is_not_the_fleets_alone(spec, tmp_path, calico_manifest):
    provider = FakeProvider()
    _theirs(provider, "t-hub")
    with pytest.raises(PartialFailure) as caught:
        up(spec, provider, UpOptions(kubeconfig=tmp_path / "kc", calico_manifest=calico_manifest))
    assert provider.steps("t-hub") == [] and "t-hub" in caught.value.result.failed


def test_down_leaves_it_and_its_context(spec, tmp_path, calico_manifest):
    provider = FakeProvider()
    target = tmp_path / "kc"
    up(spec, provider, UpOptions(kubeconfig=target, calico_manifest=calico_manifest))
    provider.clusters["t-spoke2"]["foreign"] = "made by kindfleet for fleet other"
    result = down(spec, provider, DownOptions(kubeconfig=target))
    assert set(provider.clusters) == {"t-spoke2"}
    assert ("delete", "t-spoke2") not in provider.log
    [left] = [o for o in result.outcomes if o.name == "t-spoke2"]
    assert left.ok and left.action == "leave" and NOT_OURS in left.notes
    assert kc.context_names(kc.KubeconfigFile(target).read()) == ["kind-t-spoke2"]
    assert "kind-t-spoke2" not in result.contexts_removed


def test_a_cluster_that_appears_while_up_creates_it_is_not_removed(spec, tmp_path, calico_manifest):
    provider = FakeProvider(fail={"t-spoke3": "exists"})
    with pytest.raises(PartialFailure) as caught:
        up(spec, provider, UpOptions(kubeconfig=tmp_path / "kc", calico_manifest=calico_manifest))
    assert "t-spoke3" in provider.clusters and ("delete", "t-spoke3") not in provider.log
    assert "appeared" in caught.value.result.failed["t-spoke3"]
    assert kind_kubeconfig  # the double writes contexts as kind does
