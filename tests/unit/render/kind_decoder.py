"""A stand-in for KIND's strict config decoder, written from KIND's v1alpha4 Go types
(tests/golden/kind-v1alpha4.schema.json) rather than from kindfleet's renderer, plus the
checks KIND's validate.go adds on top (one control plane, distinct port mappings).
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

import jsonschema
import yaml

from tests.conftest import GOLDEN

SCHEMA = json.loads((GOLDEN / "kind-v1alpha4.schema.json").read_text())
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def decode(config: dict[str, Any]) -> list[str]:
    """Every reason KIND would refuse this config (empty when it would accept it)."""
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _VALIDATOR.iter_errors(config)
    ]
    nodes = config.get("nodes", [{"role": "control-plane"}])
    if not any(n.get("role", "control-plane") == "control-plane" for n in nodes):
        errors.append("nodes: must have at least one control-plane node")
    for i, node in enumerate(nodes):
        seen = set()
        for m in node.get("extraPortMappings", []):
            key = (m.get("listenAddress", "0.0.0.0"), m.get("hostPort"), m.get("protocol", "TCP"))
            if m.get("hostPort") not in (None, 0, -1) and key in seen:
                errors.append(
                    f"nodes.{i}: port mapping with same listen address, port and protocol"
                )
            seen.add(key)
        for patch in node.get("kubeadmConfigPatches", []):
            if not isinstance(yaml.safe_load(patch), dict):
                errors.append(f"nodes.{i}.kubeadmConfigPatches: not a YAML map")
    for patch in config.get("containerdConfigPatches", []):
        try:
            tomllib.loads(patch)
        except tomllib.TOMLDecodeError as exc:
            errors.append(f"containerdConfigPatches: {exc}")
    return errors
