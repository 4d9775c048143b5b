"""Every object checked against the OpenAPI schema of its cluster's Kubernetes version
before anything is applied, so a bad field fails the deploy with the object and the field
instead of leaving the hub half-updated.

kubernetes-validate (the `validate` extra: `pip install 'kindfleet[validate]'`) carries
the schemas of Kubernetes 1.25 to 1.37 offline. Without it the check is skipped and said
to be: the API server still refuses an unknown or mistyped field when the objects are
applied (server-side apply, strict field validation).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from kindfleet.errors import KindfleetError

Validate = Callable[[dict[str, Any], str], None]
INSTALL = "pip install 'kindfleet[validate]'"


class InvalidManifest(KindfleetError):
    """An object does not match its cluster's Kubernetes schema."""


def load_validator(module: str = "kubernetes_validate") -> Validate | None:
    """kubernetes-validate's strict check, or None when it is not installed."""
    try:
        kv = importlib.import_module(module)
    except ImportError:
        return None

    def validate(obj: dict[str, Any], version: str) -> None:
        kv.validate(obj, version, strict=True)

    return validate


def describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def validate_objects(
    cluster: str, objects: Sequence[dict[str, Any]], version: str, validate: Validate
) -> str | None:
    """Check every object; InvalidManifest names the first bad one and its field. Returns
    why nothing was checked when the schemas do not cover `version`, else None."""
    for obj in objects:
        try:
            validate(obj, version)
        except KindfleetError:
            raise
        except Exception as exc:  # kubernetes-validate's own error types
            if _unsupported(exc):
                return f"no offline schema for Kubernetes {version}: not checked"
            field = ".".join(str(p) for p in getattr(exc, "path", ()) or ()) or "(the object)"
            message = getattr(exc, "message", None) or str(exc)
            raise InvalidManifest(
                f"{cluster}: {describe(obj)} is not valid for Kubernetes {version}: "
                f"{field}: {message}",
                hint=(
                    "a label, name or node selector in the fleet file may have caused it; see "
                    f"the object with `kindfleet manifests --cluster {cluster}`"
                ),
            ) from None
    return None


def _unsupported(exc: Exception) -> bool:
    name = type(exc).__name__
    return name in ("VersionNotSupportedError", "IndexError", "SchemaNotFoundError")
