"""init / validate / render / version as a user runs them: exit codes, stdout, stderr."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES
from tests.unit.render.kind_decoder import decode

ARTICLE = str(EXAMPLES / "article.yaml")


def test_init_writes_the_article_fleet(cli, tmp_path):
    path = tmp_path / "fleet.yaml"
    result = cli("init", str(path))
    assert result.code == 0
    assert path.read_text() == (EXAMPLES / "article.yaml").read_text()
    assert "kindfleet validate" in result.err


@pytest.mark.parametrize(("flag", "example"), [("--minimal", "minimal"), ("--local", "local")])
def test_init_variants(cli, tmp_path, flag, example):
    path = tmp_path / "f.yaml"
    assert cli("init", str(path), flag).code == 0
    assert path.read_text() == (EXAMPLES / f"{example}.yaml").read_text()


def test_init_refuses_to_overwrite(cli, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text("mine")
    result = cli("init", str(path))
    assert result.code == 2
    assert "already exists" in result.err and "--force" in result.err
    assert path.read_text() == "mine"
    assert cli("init", str(path), "--force").code == 0
    assert path.read_text() != "mine"


def test_init_then_validate_uses_default_file(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("init", "--minimal").code == 0
    result = cli("validate")
    assert result.code == 0
    assert "dev-spoke2" in result.out


def test_validate_table(cli):
    result = cli("validate", "-f", ARTICLE)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[1].split()[:3] == ["CLUSTER", "ROLE", "NODES"]
    assert any(line.startswith("platform-spoke3") and "calico" in line for line in lines)
    assert "is valid" in result.err


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_validate_data_output_is_only_data(cli, fmt):
    result = cli("validate", "-f", ARTICLE, "-o", fmt)
    assert result.code == 0
    data = json.loads(result.out) if fmt == "json" else yaml.safe_load(result.out)
    assert next(c["name"] for c in data["clusters"]) == "platform-hub"
    assert data["clusters"][1]["networking"]["pod_subnet"] == "10.245.0.0/16"
    assert data["clusters"][1]["gpus"] == 2


def test_invalid_file_exit_2_with_paths_and_no_traceback(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: x\n"
        "spokes:\n  - nodes:\n      - role: control-plane\n        labels: {'a b': x}\n"
        "  - nodez: []\n"
    )
    result = cli("validate", "-f", str(bad))
    assert result.code == 2
    assert result.out == ""
    assert "spokes[0].nodes[0].labels" in result.err
    assert "spokes[1].nodez" in result.err and "did you mean 'nodes'" in result.err
    assert "Traceback" not in result.err


def test_missing_file(cli, tmp_path):
    result = cli("validate", "-f", str(tmp_path / "none.yaml"))
    assert result.code == 2
    assert "does not exist" in result.err and "kindfleet init" in result.err


def test_bad_argument_is_exit_2(cli):
    result = cli("validate", "-o", "xml")
    assert result.code == 2
    assert "xml" in result.err


def test_render_stream_is_what_kind_takes(cli):
    result = cli("render", "-f", ARTICLE)
    assert result.code == 0
    docs = list(yaml.safe_load_all(result.out))
    assert [d["name"] for d in docs] == [
        "platform-hub",
        "platform-spoke1",
        "platform-spoke2",
        "platform-spoke3",
    ]
    assert all(decode(d) == [] for d in docs)


def test_render_one_cluster(cli):
    result = cli("render", "-f", ARTICLE, "--cluster", "platform-spoke2")
    docs = list(yaml.safe_load_all(result.out))
    assert [d["name"] for d in docs] == ["platform-spoke2"]


def test_render_unknown_cluster_suggests(cli):
    result = cli("render", "-f", ARTICLE, "--cluster", "platform-spoke9")
    assert result.code == 2
    assert "did you mean 'platform-spoke" in result.err


def test_render_out_dir(cli, tmp_path):
    result = cli("render", "-f", ARTICLE, "--out", str(tmp_path / "kind"))
    assert result.code == 0
    files = sorted(p.name for p in (tmp_path / "kind").iterdir())
    assert files == [f"platform-{n}.yaml" for n in ("hub", "spoke1", "spoke2", "spoke3")]
    hub = yaml.safe_load((tmp_path / "kind" / "platform-hub.yaml").read_text())
    assert hub["name"] == "platform-hub" and decode(hub) == []


def test_render_json(cli):
    result = cli("render", "-f", ARTICLE, "-o", "json")
    assert len(json.loads(result.out)) == 4


def test_version(cli):
    result = cli("version", "-o", "json")
    data = json.loads(result.out)
    assert data["kind"] == "v0.33.0"
    assert all("@sha256:" in ref for ref in data["nodeImages"].values())
    assert "v0.33.0" in cli("version").out


def test_help_teaches(cli):
    result = cli("--help")
    assert result.code == 0
    assert "kindfleet init" in result.out
    render_help = cli("render", "--help").out
    assert "kind create cluster --config" in render_help


def test_python_dash_m_and_console_script():
    env = {**os.environ, "NO_COLOR": "1"}
    for argv in (
        [sys.executable, "-m", "kindfleet"],
        [str(Path(sys.executable).parent / "kindfleet")],
    ):
        done = subprocess.run(
            [*argv, "validate", "-f", ARTICLE, "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["name"] == "platform"
