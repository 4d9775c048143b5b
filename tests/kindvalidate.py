"""kind's own config loader and validator as a test oracle.

`kind-validate` (built from kind's source, see ../shared/tools/kind/README.md) runs exactly
what `kind create cluster --config` runs before it touches a container runtime: strict
decoding, defaulting, `Validate()`; with `--kubeadm VERSION` it also renders every node's
kubeadm config with kind's own patch code. Our JSON-schema stand-in
(tests/unit/render/kind_decoder.py) is a fast first check; this is the proof.

Tests find it on PATH (`.ci/run` puts ../shared/tools/kind there when it exists) and skip
with `needs_kind_validate`'s reason where it is absent. One call checks many configs, so
a test that has hundreds of them pays for one process, not hundreds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.kind import images
from kindfleet.render.kindconfig import render_fleet, to_yaml

KIND_VALIDATE = shutil.which("kind-validate")
needs_kind_validate = pytest.mark.skipif(
    KIND_VALIDATE is None,
    reason=(
        "kind-validate (kind's own config validator, built from kind's source) is not on "
        "PATH; put ../shared/tools/kind on PATH (.ci/run does) to check configs with kind"
    ),
)
_RELEASE = re.compile(r"^v\d+\.\d+\.\d+$")
_FAILED = ("INVALID", "KUBEADM/CONTAINERD CONFIG FAILED")


@dataclass(frozen=True)
class Verdict:
    """What kind said about one config: accepted or not, its errors, and what it printed
    (with `--kubeadm`, each node's rendered kubeadm config; with `--print`, the defaulted
    config as JSON)."""

    ok: bool
    errors: tuple[str, ...]
    output: str


def kind_validate(
    configs: Mapping[str, str], *, kubeadm: str | None = None, print_config: bool = False
) -> dict[str, Verdict]:
    """Run kind-validate once over `configs` (label -> config text); a verdict per label."""
    if KIND_VALIDATE is None:
        pytest.skip("kind-validate is not on PATH")
    with tempfile.TemporaryDirectory(prefix="kind-validate-") as tmp:
        labels: dict[str, str] = {}
        for i, (label, text) in enumerate(configs.items()):
            path = Path(tmp) / f"config-{i}.yaml"
            path.write_text(text, encoding="utf-8")
            labels[str(path)] = label
        argv = [KIND_VALIDATE]
        argv += ["--kubeadm", kubeadm] if kubeadm else []
        argv += ["--print"] if print_config else []
        env = {k: v for k, v in os.environ.items() if k != "KIND_CLUSTER_NAME"}
        done = subprocess.run(
            [*argv, *labels], capture_output=True, text=True, timeout=300, env=env, check=False
        )
    if done.returncode not in (0, 1):
        raise AssertionError(f"kind-validate failed to run: {done.stderr or done.stdout}")
    return _verdicts(done.stdout, labels)


def _verdicts(stdout: str, labels: Mapping[str, str]) -> dict[str, Verdict]:
    """Split kind-validate's output into per-file sections (each starts `PATH: STATUS`)."""
    sections: dict[str, list[str]] = {path: [] for path in labels}
    failed: set[str] = set()
    current: str | None = None
    for line in stdout.splitlines():
        path, sep, status = line.partition(": ")
        if sep and path in sections and (status.startswith("OK") or status in _FAILED):
            current = path
            if status in _FAILED:
                failed.add(path)
            continue
        if current is not None:
            sections[current].append(line)
    return {
        labels[path]: Verdict(path not in failed, _errors(lines), "\n".join(lines))
        for path, lines in sections.items()
    }


def _errors(lines: list[str]) -> tuple[str, ...]:
    """Each `ERROR: ...` line with its indented continuation lines (kind's unmarshal errors)."""
    errors: list[str] = []
    continues = False
    for line in lines:
        if line.startswith("ERROR: "):
            errors.append(line)
            continues = True
        elif continues and line.startswith((" ", "\t")):
            errors[-1] += "\n" + line
        else:
            continues = False
    return tuple(errors)


def rejected(verdicts: Mapping[str, Verdict]) -> dict[str, tuple[str, ...]]:
    """Only the configs kind refused, with kind's words: what a failing assert should show."""
    return {label: v.errors for label, v in verdicts.items() if not v.ok}


def kind_rejects(configs: Iterable[tuple[str, str, str]]) -> dict[str, tuple[str, ...]]:
    """(label, config text, Kubernetes version) triples, checked with kubeadm rendering for
    each config's own version (one kind-validate run per version); what kind refused."""
    by_version: dict[str, dict[str, str]] = {}
    for label, text, version in configs:
        by_version.setdefault(version, {})[label] = text
    refused: dict[str, tuple[str, ...]] = {}
    for version, group in by_version.items():
        refused.update(rejected(kind_validate(group, kubeadm=version)))
    return refused


def fleet_configs(spec: FleetSpec) -> list[tuple[str, str, str]]:
    """Every cluster's rendered config as `kind_rejects` takes it: (name, text, version).
    A node image whose tag tells no release is rendered for the default version."""
    out = []
    for name, config in render_fleet(spec).items():
        version = spec.cluster(name).kubernetes_version
        out.append(
            (name, to_yaml(config), version if _RELEASE.match(version) else images.DEFAULT_VERSION)
        )
    return out
