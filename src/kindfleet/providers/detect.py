"""Which provider runs a fleet: the one its resolved spec names (the file's own, or the one
given to `load_fleet(..., provider=...)`), decided once, here.

Providers are looked up by name in a table of import paths, so a provider module is
imported only when a fleet uses it (the local provider pulls in the whole platform).
A provider class with a `from_settings` classmethod is built from the `ProviderSettings`
(runner, kubeconfig, environment); one without is built with no arguments.
"""

from __future__ import annotations

import importlib

from kindfleet.errors import UsageError
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.providers.base import Availability, Provider, ProviderSettings

PROVIDERS: dict[str, str] = {
    "kind": "kindfleet.providers.kind:KindProvider",
    "existing": "kindfleet.providers.existing:ExistingProvider",
    "local": "kindfleet.providers.local:LocalProvider",
}


def provider_class(name: str) -> type[Provider]:
    module_name, _, attr = PROVIDERS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UsageError(
            f"provider {name} is not available in this installation of kindfleet",
            hint=f"use one of {', '.join(n for n in PROVIDERS if n != name)}",
        ) from None
    cls: type[Provider] = getattr(module, attr)
    return cls


def build(cls: type[Provider], settings: ProviderSettings) -> Provider:
    factory = getattr(cls, "from_settings", None)
    provider: Provider = factory(settings) if callable(factory) else cls()
    return provider


def get_provider(fleet: FleetSpec, settings: ProviderSettings | None = None) -> Provider:
    settings = settings or ProviderSettings()
    return build(provider_class(fleet.provider), settings)


def detect(
    settings: ProviderSettings | None = None, order: tuple[str, ...] = ("kind", "local")
) -> tuple[str | None, dict[str, Availability]]:
    """The first provider in `order` that can work here, and what each one said."""
    settings = settings or ProviderSettings()
    said: dict[str, Availability] = {}
    for name in order:
        try:
            provider = build(provider_class(name), settings)
        except UsageError as exc:
            said[name] = Availability(False, exc.message, exc.hint or "")
            continue
        said[name] = provider.availability()
        if said[name].ok:
            return name, said
    return None, said
