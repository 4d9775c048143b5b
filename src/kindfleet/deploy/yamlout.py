"""Manifests as text: one multi-document YAML stream (each cluster's objects under a
comment naming the cluster), or one directory per cluster with a kustomization.yaml, so
`kubectl apply -k DIR/<cluster>` applies exactly what deploy would (no Helm needed)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from kindfleet.deploy.manifests import kustomization


def dump(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def cluster_stream(objects: Sequence[dict[str, Any]]) -> str:
    """One cluster's objects as a stream `kubectl apply -f -` takes."""
    return "".join(f"---\n{dump(obj)}" for obj in objects)


def stream(manifests: Mapping[str, Sequence[dict[str, Any]]]) -> str:
    parts = []
    for name, objects in manifests.items():
        parts.append(f"# cluster {name}: {len(objects)} objects\n")
        parts.append(cluster_stream(objects))
    return "".join(parts)


def file_name(index: int, obj: Mapping[str, Any]) -> str:
    kind = str(obj.get("kind", "object")).lower()
    name = re.sub(r"[^a-z0-9.-]+", "-", str((obj.get("metadata") or {}).get("name", "")).lower())
    return f"{index:02d}-{kind}-{name}.yaml"


def write_kustomizations(
    out: Path, manifests: Mapping[str, Sequence[dict[str, Any]]], *, private: bool = False
) -> list[Path]:
    """`out/<cluster>/NN-kind-name.yaml` and `out/<cluster>/kustomization.yaml`; files are
    written 0600 when `private` (they hold secrets). Returns the directories written."""
    written = []
    for cluster, objects in manifests.items():
        directory = out / cluster
        directory.mkdir(parents=True, exist_ok=True)
        names = [file_name(i, obj) for i, obj in enumerate(objects)]
        for name, obj in zip(names, objects, strict=True):
            _write(directory / name, dump(obj), private)
        _write(directory / "kustomization.yaml", dump(kustomization(names)), private)
        written.append(directory)
    return written


def _write(path: Path, text: str, private: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    if private:
        path.chmod(0o600)
