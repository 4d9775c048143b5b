"""Which provider runs a fleet: the file's choice, or the one given when it is loaded."""

import pytest

from kindfleet.errors import UsageError
from kindfleet.exec import ProcessRunner
from kindfleet.fleetspec import from_text
from kindfleet.providers import detect
from kindfleet.providers.base import ProviderSettings, traits
from kindfleet.providers.existing import ExistingProvider
from kindfleet.providers.kind import KindProvider


def spec(provider="kind", override=None):
    return from_text(
        f"apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: d\nprovider: {provider}\n",
        provider=override,
    )


def test_the_file_decides_unless_told_otherwise_when_loaded():
    assert spec("kind").provider == "kind"
    assert spec("kind").hub.context == "kind-d-hub"
    overridden = spec("kind", override="existing")
    assert overridden.provider == "existing"
    assert overridden.hub.context == "d-hub"  # the provider's defaults follow the override
    assert isinstance(detect.get_provider(overridden, ProviderSettings(env={})), ExistingProvider)
    assert detect.get_provider(spec("kind", override="local"), ProviderSettings()).name == "local"
    with pytest.raises(UsageError, match="'k3d' names no provider"):
        spec(override="k3d")


def test_the_environment_does_not_choose_the_provider(monkeypatch):
    monkeypatch.setenv("KINDFLEET_PROVIDER", "existing")
    assert isinstance(detect.get_provider(spec(), ProviderSettings()), KindProvider)


def test_providers_are_built_with_the_settings():
    runner = ProcessRunner()
    env = {"KIND_EXPERIMENTAL_DOCKER_NETWORK": "fleetnet"}
    provider = detect.get_provider(spec(), ProviderSettings(runner=runner, env=env))
    assert isinstance(provider, KindProvider)
    assert provider.runner.runner is runner and provider.network == "fleetnet"
    assert isinstance(
        detect.get_provider(spec("existing"), ProviderSettings(env={})), ExistingProvider
    )


def test_traits_default_for_providers_that_do_not_declare_them():
    class Bare:
        name = "local"

    assert traits(Bare()) == traits(type("X", (), {})())
    said = traits(Bare())
    assert (said.creates_hub_first, said.owns_clusters, said.manages_kubeconfig) == (
        False,
        True,
        False,
    )
    kind = traits(KindProvider(ProviderSettings(env={})))
    assert (kind.owns_clusters, kind.manages_kubeconfig) == (True, True)
    existing = traits(ExistingProvider())
    assert (existing.owns_clusters, existing.manages_kubeconfig) == (False, False)


def test_a_provider_that_is_not_installed_says_so(monkeypatch):
    monkeypatch.setitem(detect.PROVIDERS, "local", "kindfleet.providers.nowhere:Nothing")
    with pytest.raises(UsageError, match="provider local is not available"):
        detect.provider_class("local")


def test_detect_reports_what_each_provider_said(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    name, said = detect.detect(ProviderSettings(env={}), order=("kind",))
    assert name is None
    assert (said["kind"].ok, said["kind"].reason) == (False, "kind not found on PATH")
