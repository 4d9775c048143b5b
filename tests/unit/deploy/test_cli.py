"""`kindfleet manifests` and `kindfleet deploy` through the real entry point: data on
stdout, messages on stderr, exit codes, and the errors that say what to do next."""

from __future__ import annotations

import json
import stat

import pytest
import yaml

from kindfleet.fleet import Fleet
from tests.conftest import EXAMPLES
from tests.doubles.deployfakes import FLEET, DeployProvider, Hub, Runner, fleet

ARTICLE = str(EXAMPLES / "article.yaml")


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CI", "1")
    return tmp_path / "state"


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d is not None]


def test_manifests_is_one_stream_one_document_per_object_secrets_redacted(cli):
    result = cli("manifests", "-f", ARTICLE)
    assert result.code == 0, result.err
    found = docs(result.out)
    assert len(found) == 7 + 3 * 12
    assert all(isinstance(d, dict) and d["apiVersion"] and d["kind"] for d in found)
    assert result.out.count("# cluster ") == 4
    assert "# cluster platform-spoke2: 12 objects" in result.out
    secrets = [d for d in found if d["kind"] == "Secret"]
    assert len(secrets) == 4
    assert all(v.startswith("<redacted") for s in secrets for v in s["stringData"].values())
    deployment = next(d for d in found if d["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "localhost:5001/kindfleet/platform:0.1.0"  # in the article fleet's registry
    assert result.err == ""


def test_manifests_of_one_cluster_with_an_image_and_a_hub_url(cli):
    result = cli("manifests", "-f", ARTICLE, "--cluster", "platform-spoke1",
                 "--image", "r.example.com/p:1", "--hub-url", "https://hub.example.com")  # fmt: skip
    assert result.code == 0, result.err
    found = docs(result.out)
    assert {d["metadata"].get("namespace") for d in found} <= {
        None,
        "platform-control",
        "platform-workloads",
    }
    orchestrator = next(d for d in found if d["kind"] == "Deployment")
    container = orchestrator["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "r.example.com/p:1"
    assert container["args"][container["args"].index("--hub") + 1] == "https://hub.example.com"


def test_manifests_as_a_json_list(cli):
    result = cli("manifests", "-f", ARTICLE, "-c", "platform-hub", "-o", "json")
    data = json.loads(result.out)
    assert (data["apiVersion"], data["kind"], len(data["items"])) == ("v1", "List", 7)


def test_show_secrets_uses_the_stored_tokens_and_out_writes_kustomizations(cli, tmp_path, state):
    out = tmp_path / "out"
    result = cli("manifests", "-f", ARTICLE, "--out", str(out), "--show-secrets")
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == [
        "platform-hub", "platform-spoke1", "platform-spoke2", "platform-spoke3",
    ]  # fmt: skip
    hub = out / "platform-hub"
    kustomization = yaml.safe_load((hub / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"] == sorted(
        p.name for p in hub.iterdir() if p.name != "kustomization.yaml"
    )
    assert kustomization["resources"][0] == "00-namespace-platform-management.yaml"
    secret = yaml.safe_load((hub / "02-secret-hub-tokens.yaml").read_text())
    client = (state / "platform" / "tokens" / "client.token").read_text()
    assert secret["stringData"]["client"] == client
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in hub.iterdir())
    assert "kubectl --context kind-platform-hub apply -k" in result.err  # (kubectl reads it:
    # tests/integration/cli/test_tools_read_our_output.py)


def test_deploy_refuses_provider_local(cli):
    result = cli("deploy", "-f", str(EXAMPLES / "local.yaml"))
    assert result.code == 2
    assert "provider local already runs the platform" in result.err
    assert "kindfleet up" in result.err


def test_deploy_to_existing_clusters_says_what_it_needs(cli, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(
        FLEET.format(registry="").replace("kind: Fleet\n", "kind: Fleet\nprovider: existing\n")
    )
    result = cli("deploy", "-f", str(path))
    assert result.code == 2
    assert "need --image REF: an image they can pull" in result.err
    assert "--hub-url URL: how the spokes reach the hub" in result.err
    only_url = cli("deploy", "-f", str(path), "--image", "r.example.com/p:1")
    assert only_url.code == 2 and "--image" not in only_url.err.split("need")[1].split("hint")[0]
    bad = cli("deploy", "-f", str(path), "--image", "r/p:1", "--hub-url", "hub.example.com")
    assert bad.code == 2 and "is not an http(s) URL" in bad.err


def test_a_build_arg_must_be_key_value(cli, tmp_path):
    result = cli("deploy", "-f", ARTICLE, "--build-arg", "PYTHON_IMAGE")
    assert result.code == 2
    assert "--build-arg 'PYTHON_IMAGE' is not KEY=VALUE" in result.err


@pytest.fixture
def fake_clusters(monkeypatch, tmp_path):
    """`Fleet` with the in-memory provider and a runner that answers like kubectl/docker."""
    runner = Runner(api_servers={"kind-t-cpu": ["172.18.0.4"]}, local_images={"x:1": "sha256:c 1"})
    monkeypatch.setattr("kindfleet.fleet.ProcessRunner", lambda: runner)
    monkeypatch.setattr(Fleet, "_interrupter", lambda self: None)
    monkeypatch.setattr(Fleet, "provider", lambda self, kubeconfig=None: DeployProvider(self.spec))
    hub = Hub({"t-cpu": 1, "t-gpu": 1})  # what deploy's hub client reaches (join tokens)
    monkeypatch.setattr(
        "kindfleet.platform.client.HubClient", lambda url, token, timeout: hub(url, token)
    )
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(registry="registry: {hostPort: 5099}"))
    return path


def test_deploy_dry_run_prints_what_would_be_applied(cli, fake_clusters):
    result = cli("deploy", "-f", str(fake_clusters), "--dry-run")
    assert result.code == 0, result.err
    found = docs(result.out)
    assert len(found) == 7 + 12 + 12
    assert all(
        v.startswith("<redacted")
        for d in found
        if d["kind"] == "Secret"
        for v in d["stringData"].values()
    )
    assert " ✓ fleet: checking clusters" in result.err
    assert " ✓ t-gpu: simulated GPUs (server dry run)" in result.err
    assert "dry run: 31 objects for 3 clusters would be applied" in result.err
    assert "nothing was built, pushed or applied" in result.err


def test_deploy_reports_where_the_platform_is(cli, fake_clusters, state):
    result = cli("deploy", "-f", str(fake_clusters), "--image", "x:1", "--no-wait")
    assert result.code == 0, result.err
    assert result.out == ""
    assert "platform deployed on fleet t" in result.err
    assert "spokes dial http://172.18.0.2:30080; this machine: http://127.0.0.1:30555" in result.err
    recorded = json.loads((state / "t" / "access.json").read_text())
    assert recorded["hub"] == "http://127.0.0.1:30555"
    assert (recorded["hub_node"], recorded["hub_host"]) == ("t-hub-control-plane", "172.18.0.2")


def test_fleet_manifests_from_python_redacts_unless_asked(state):
    def secret(manifests, cluster):
        return next(o for o in manifests[cluster] if o["kind"] == "Secret")["stringData"]

    spec_fleet = Fleet(fleet())
    assert secret(spec_fleet.manifests(cluster="t-hub"), "t-hub")["client"].startswith("<redacted")
    shown = spec_fleet.manifests(show_secrets=True)
    assert secret(shown, "t-hub") == {
        "client": (state / "t" / "tokens" / "client.token").read_text()
    }
    # a join token exists only once a running hub mints it: offline, always a placeholder
    assert secret(shown, "t-cpu")["token"].startswith("<redacted")
