"""`remove_context` takes a context only as kind writes it: its cluster and its user are
the entries of the same name. A context of that name pointing at the user's own cluster
and user is theirs (found by an outside attacker: `kindfleet down` took the user's
context `kind-atkb-hub`, their cluster `prod` and their user `prod-admin` with its token,
and cleared their current context)."""

import copy

import pytest

from kindfleet import kubeconfig as kc
from kindfleet.fleetspec import from_text
from kindfleet.lifecycle import DownOptions, UpOptions, down, up
from tests.doubles.fakeprovider import FakeProvider

THEIRS = """\
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://prod.example:443"}
users:
- name: prod-admin
  user: {token: their-token}
contexts:
- name: kind-atkb-hub
  context: {cluster: prod, user: prod-admin}
current-context: kind-atkb-hub
"""

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: atkb
hub: {}
"""


def kind_entries(key):
    """What kind (or kindfleet, renaming all three) writes for one cluster."""
    return {
        "clusters": [{"name": key, "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": key, "user": {"client-certificate-data": "Q0VSVA=="}}],
        "contexts": [{"name": key, "context": {"cluster": key, "user": key}}],
    }


def test_a_context_of_that_name_pointing_at_the_users_entries_is_left_alone():
    config = kc.parse(THEIRS)
    before = copy.deepcopy(config)
    assert kc.remove_context(config, "kind-atkb-hub") == before
    assert config == before  # the input is not modified either
    assert not kc.is_kind_context(config, "kind-atkb-hub")


@pytest.mark.parametrize(
    "body",
    [
        {"cluster": "prod", "user": "prod-admin"},
        {"cluster": "kind-atkb-hub", "user": "prod-admin"},  # their user, kind's cluster name
        {"cluster": "prod", "user": "kind-atkb-hub"},
        {"cluster": "kind-atkb-hub"},
        {},
        None,
    ],
)
def test_only_a_context_naming_its_own_cluster_and_user_is_kinds(body):
    config = kc.merge(kc.parse(THEIRS), kind_entries("kind-atkb-hub"))
    config["contexts"] = [{"name": "kind-atkb-hub", "context": body}]
    config["current-context"] = "kind-atkb-hub"
    assert kc.remove_context(config, "kind-atkb-hub") == config
    assert not kc.is_kind_context(config, "kind-atkb-hub")


def test_a_context_as_kind_writes_it_goes_with_its_cluster_and_user_and_current():
    config = kc.merge(kc.parse(THEIRS), kind_entries("kind-x"), current="kind-x")
    out = kc.remove_context(config, "kind-x")
    assert kc.context_names(out) == ["kind-atkb-hub"]
    assert [c["name"] for c in out["clusters"]] == ["prod"]
    assert out["users"] == [{"name": "prod-admin", "user": {"token": "their-token"}}]
    assert out["current-context"] == ""
    assert kc.is_kind_context(config, "kind-x") and not kc.is_kind_context(out, "kind-x")


def test_a_renamed_fleet_context_is_still_removed():
    """A fleet file may call all three something else (`rename_context`)."""
    ours = kc.rename_context(kind_entries("kind-atkb-hub"), "kind-atkb-hub", "platform")
    config = kc.merge(kc.parse(THEIRS), ours)
    out = kc.remove_context(config, "platform")
    assert out == kc.parse(THEIRS)


def test_entries_another_context_still_uses_are_kept():
    config = kc.merge(kc.parse(THEIRS), kind_entries("kind-x"))
    config["contexts"].append({"name": "mine", "context": {"cluster": "prod", "user": "kind-x"}})
    out = kc.remove_context(config, "kind-x")
    assert kc.context_names(out) == ["kind-atkb-hub", "mine"]
    assert [c["name"] for c in out["clusters"]] == ["prod"]
    assert [u["name"] for u in out["users"]] == ["prod-admin", "kind-x"]


def test_down_leaves_the_users_own_context_of_the_same_name(tmp_path):
    """The attacker's case end to end: the fleet's cluster exists (its context written to
    another file), and `down` is pointed at the user's file."""
    spec = from_text(FLEET)
    provider = FakeProvider()
    up(spec, provider, UpOptions(kubeconfig=tmp_path / "elsewhere"))
    assert "atkb-hub" in provider.clusters
    theirs = tmp_path / "config"
    theirs.write_text(THEIRS)
    down(spec, provider, DownOptions(kubeconfig=theirs))
    assert provider.clusters == {}
    assert kc.KubeconfigFile(theirs).read() == kc.parse(THEIRS)  # token, context, current


def test_down_removes_the_fleets_own_context(tmp_path):
    spec = from_text(FLEET)
    provider = FakeProvider()
    mine = tmp_path / "config"
    mine.write_text(THEIRS.replace("kind-atkb-hub", "prod"))
    up(spec, provider, UpOptions(kubeconfig=mine))
    down(spec, provider, DownOptions(kubeconfig=mine))
    expected = kc.parse(THEIRS.replace("kind-atkb-hub", "prod"))
    expected["current-context"] = ""  # `up` made the hub current; `down` cleared it
    assert kc.KubeconfigFile(mine).read() == expected
