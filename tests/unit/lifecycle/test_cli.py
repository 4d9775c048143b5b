"""up / status / down / kubeconfig / use as a user runs them (with a fake provider)."""

import json
import sys

import pytest
import yaml

import kindfleet.fleet
from kindfleet.cli import main
from tests.conftest import EXAMPLES
from tests.doubles.fakeprovider import FakeProvider, GoodProbes
from tests.unit.lifecycle.conftest import CALICO, FLEET


@pytest.fixture
def world(tmp_path, monkeypatch):
    provider = FakeProvider()
    monkeypatch.setattr(kindfleet.fleet, "get_provider", lambda spec, settings: provider)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kube" / "config"))
    monkeypatch.setenv("KINDFLEET_CALICO_MANIFEST", str(CALICO))
    monkeypatch.delenv("KINDFLEET_FILE", raising=False)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    return provider, fleet, tmp_path / "kube" / "config"


@pytest.fixture
def cli(capsys, monkeypatch):
    def run(*args):
        monkeypatch.setattr(sys, "argv", ["kindfleet", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_up_prints_a_line_per_step_and_merges_into_kubeconfig(world, cli):
    _, fleet, kubeconfig = world
    code, out, err = cli("up", "-f", str(fleet))
    assert code == 0, err
    assert out == ""
    assert " ✓ fleet: preflight" in err and "docker 28.1, kind v0.33.0, kubectl v1.35.0" in err
    assert " ✓ t-spoke1: installing Calico v3.32.1" in err
    assert " ✓ t-hub: up (" in err
    assert "✓ fleet t is up: 4 clusters in" in err and "(created 4)" in err
    config = yaml.safe_load(kubeconfig.read_text())
    assert config["current-context"] == "kind-t-hub"
    lines = err.splitlines()
    assert all(line.startswith((" ", "✓")) for line in lines), lines  # never interleaved


def test_up_names_failed_clusters_with_exit_4(world, cli):
    provider, fleet, _ = world
    provider.fail = {"t-spoke3": "create"}
    code, _, err = cli("up", "-f", str(fleet))
    assert code == 4
    assert "error: 1 of 4 clusters failed to come up: t-spoke3" in err
    assert "hint: fix the cause and run `kindfleet up` again" in err


def test_up_preflight_failure_is_exit_3(world, cli):
    class NoDocker(GoodProbes):
        def docker_info(self):
            from kindfleet.exec import CommandNotFound, cmd

            raise CommandNotFound(cmd("docker"))

    world[0].probes = NoDocker()
    code, _, err = cli("up", "-f", str(world[1]))
    assert code == 3
    assert "✗ docker: docker not found on PATH" in err


def test_unknown_skip_check_is_exit_2(world, cli):
    code, _, err = cli("up", "-f", str(world[1]), "--skip-check", "inotfy")
    assert code == 2 and "unknown preflight check 'inotfy'" in err


def test_status_table_and_json(world, cli):
    _, fleet, _ = world
    assert cli("up", "-f", str(fleet))[0] == 0
    code, out, _ = cli("status", "-f", str(fleet))
    assert code == 0
    assert out.splitlines()[0] == "fleet t (provider kind): 4/4 ready"
    assert any(line.startswith("t-spoke2-worker") for line in out.splitlines())
    assert "registry t-registry: running" in out
    code, out, _ = cli("status", "-f", str(fleet), "-o", "json")
    data = json.loads(out)
    assert [c["name"] for c in data["clusters"]] == ["t-hub", "t-spoke1", "t-spoke2", "t-spoke3"]
    assert data["ready"] is True


def test_kubeconfig_use_and_down(world, cli):
    provider, fleet, kubeconfig = world
    assert cli("up", "-f", str(fleet))[0] == 0
    code, out, _ = cli("kubeconfig", "t-spoke1", "-f", str(fleet), "--internal")
    assert (
        code == 0
        and yaml.safe_load(out)["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    )
    code, _, err = cli("use", "t-spoke1", "-f", str(fleet))
    assert code == 0 and "current context: kind-t-spoke1" in err
    assert yaml.safe_load(kubeconfig.read_text())["current-context"] == "kind-t-spoke1"
    code, _, err = cli("use", "t-spoek1", "-f", str(fleet))
    assert code == 2 and "did you mean 't-spoke1'" in err
    code, _, err = cli("down", "-f", str(fleet))
    assert code == 0 and "✓ fleet t is down in" in err and "4 clusters deleted, registry" in err
    assert provider.clusters == {}
    assert yaml.safe_load(kubeconfig.read_text())["contexts"] == []


def test_use_on_a_local_fleet_says_it_is_not_kubernetes(cli, tmp_path):
    """Found from outside: `use` of a local fleet's cluster said "bring the cluster up
    first" while it was up; `kubeconfig` said the truth, and now `use` says it too."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text((EXAMPLES / "local.yaml").read_text())
    code, _, err = cli("use", "local-hub", "-f", str(fleet))
    assert code == 2 and "it is not Kubernetes: there is no kubeconfig" in err, err
    assert "bring the cluster up" not in err


def test_help_teaches(cli):
    code, out, _ = cli("up", "--help")
    assert code == 0
    for words in ("--parallel", "--kubeconfig", "--skip-check", "--retain", "Idempotent", "exit"):
        assert words in out
