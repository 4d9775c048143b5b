"""Checks for the raw KIND escape hatch (`kindConfig`), so KIND's strict decoder never
sees a field it does not know, a label that is not a string, or a TOML patch that does
not parse.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

import yaml

from kindfleet.errors import Problem
from kindfleet.fleetspec.errors import did_you_mean
from kindfleet.kind import schema

# libyaml's parser where PyYAML has it: a fleet may hold megabytes of patches.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _unknown(
    key: str, known: frozenset[str], modelled: Mapping[str, str | None], path: str
) -> Problem | None:
    if key in modelled:
        where = modelled[key]
        fix = f"set it as {where!r} in the fleet file" if where else "kindfleet sets it"
        return Problem(f"{path}.{key}", "is managed by kindfleet, not kindConfig", fix)
    if key not in known:
        fix = did_you_mean(key, known) or f"KIND v1alpha4 has: {', '.join(sorted(known))}"
        return Problem(f"{path}.{key}", "is not a field of KIND's v1alpha4 config", fix)
    return None


def _patches(value: Any, path: str, *, toml: bool) -> list[Problem]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [Problem(path, "must be a list of strings (one patch document each)")]
    problems: list[Problem] = []
    for i, text in enumerate(value):
        if toml:
            try:
                tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                problems.append(Problem(f"{path}[{i}]", f"is not valid TOML: {exc}"))
            continue
        try:
            doc = yaml.load(text, Loader=_Loader)
        except (yaml.YAMLError, RecursionError) as exc:
            problems.append(Problem(f"{path}[{i}]", f"is not valid YAML: {exc}".splitlines()[0]))
            continue
        if not isinstance(doc, dict) or "kind" not in doc:
            problems.append(
                Problem(
                    f"{path}[{i}]",
                    "must be a kubeadm document with a 'kind'",
                    "e.g. kind: ClusterConfiguration",
                )
            )
    return problems


def _json6902(value: Any, path: str) -> list[Problem]:
    if not isinstance(value, list):
        return [Problem(path, "must be a list of {group, version, kind, patch}")]
    problems: list[Problem] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append(Problem(f"{path}[{i}]", "must be a map {group, version, kind, patch}"))
            continue
        for key in item:
            if key not in schema.PATCH_JSON6902_FIELDS:
                problems.append(
                    Problem(
                        f"{path}[{i}].{key}",
                        "is not a JSON 6902 patch field",
                        did_you_mean(key, schema.PATCH_JSON6902_FIELDS),
                    )
                )
    return problems


def _json6902_texts(value: Any, path: str) -> list[Problem]:
    """containerd's JSON 6902 patches are strings holding a YAML/JSON list of operations."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [Problem(path, "must be a list of strings, each a JSON 6902 patch")]
    problems: list[Problem] = []
    for i, text in enumerate(value):
        try:
            ops = yaml.load(text, Loader=_Loader)
        except (yaml.YAMLError, RecursionError):
            ops = None
        if not isinstance(ops, list):
            problems.append(
                Problem(
                    f"{path}[{i}]",
                    "must be a list of patch operations",
                    '"[{op: add, path: /x, value: 1}]"',
                )
            )
    return problems


def _common(raw: Mapping[str, Any], path: str) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in raw.items():
        where = f"{path}.{key}"
        if key == "kubeadmConfigPatches":
            problems += _patches(value, where, toml=False)
        elif key == "containerdConfigPatches":
            problems += _patches(value, where, toml=True)
        elif key == "containerdConfigPatchesJSON6902":
            problems += _json6902_texts(value, where)
        elif key == "kubeadmConfigPatchesJSON6902":
            problems += _json6902(value, where)
    return problems


# Cluster-level maps KIND decodes with fixed value types: (value type, message, example).
_MAPS: dict[str, tuple[type, str, str]] = {
    "featureGates": (bool, "must map gate names to true or false",
                     "e.g. {InPlacePodVerticalScaling: true}"),
    "runtimeConfig": (str, "must map API groups to strings", 'e.g. {"api/alpha": "false"}'),
}  # fmt: skip


def check_cluster(raw: Mapping[str, Any], path: str) -> list[Problem]:
    problems = [
        p
        for key in raw
        if (p := _unknown(key, schema.RAW_CLUSTER_FIELDS, schema.MODELLED_CLUSTER, path))
    ]
    for key, (kind, message, example) in _MAPS.items():
        value = raw.get(key)
        if value is not None and (
            not isinstance(value, dict) or not all(isinstance(v, kind) for v in value.values())
        ):
            problems.append(Problem(f"{path}.{key}", message, example))
    return problems + _common(raw, path)


def check_node(raw: Mapping[str, Any], path: str) -> list[Problem]:
    problems = [
        p for key in raw if (p := _unknown(key, schema.RAW_NODE_FIELDS, schema.MODELLED_NODE, path))
    ]
    return problems + _common(raw, path)
