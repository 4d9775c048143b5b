"""What kindfleet writes for other tools, read by those tools: the registry script that
`render` prints for plain kind parses in bash, and the kustomizations that `manifests
--out` writes build with kubectl's kustomize as they are."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from tests.conftest import EXAMPLES

ARTICLE = str(EXAMPLES / "article.yaml")


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CI", "1")


def test_the_registry_script_for_plain_kind_parses_in_bash(cli):
    steps = cli("render", "-f", ARTICLE, "-c", "platform-spoke1").err
    script = steps[steps.index("# once") :]
    assert subprocess.run(["bash", "-n"], input=script, text=True, check=False).returncode == 0


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_kustomize_builds_what_manifests_out_writes(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("manifests", "-f", ARTICLE, "--out", str(out))
    assert result.code == 0, result.err
    for cluster in ("platform-hub", "platform-spoke1"):
        built = subprocess.run(
            ["kubectl", "kustomize", str(out / cluster)], capture_output=True, text=True, check=True
        )
        written = [p for p in (out / cluster).iterdir() if p.name != "kustomization.yaml"]
        assert len([d for d in yaml.safe_load_all(built.stdout) if d]) == len(written)
