"""init / validate / render / version as a user runs them: exit codes, stdout, stderr."""

import json

import pytest
import yaml

from tests.conftest import EXAMPLES
from tests.kindvalidate import kind_validate, needs_kind_validate
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


def test_init_makes_the_folder_and_says_what_it_cannot_write(cli, tmp_path):
    """Found from outside: a folder not there yet, a folder given as the file and a path
    under /proc were "unexpected ... this is a bug" (exit 1)."""
    made = cli("init", str(tmp_path / "new" / "fleet.yaml"))
    assert made.code == 0 and (tmp_path / "new" / "fleet.yaml").is_file()
    (tmp_path / "adir").mkdir()
    folder = cli("init", "--force", str(tmp_path / "adir"))
    assert folder.code == 2 and f"{tmp_path / 'adir'} is a directory" in folder.err
    nowhere = cli("init", "/proc/kindfleet-fleet.yaml")
    assert nowhere.code == 2
    assert "cannot write /proc/kindfleet-fleet.yaml" in nowhere.err
    assert "bug" not in folder.err + nowhere.err


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


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_an_invalid_file_is_a_document_of_its_problems_with_o(cli, tmp_path, fmt):
    """A script asking for data gets what is wrong as data too (it got nothing on stdout)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: x\nhub: {nodes: 3}\nbogus: 1\n"
    )
    result = cli("validate", "-f", str(bad), "-o", fmt)
    assert result.code == 2 and "bogus" in result.err
    data = json.loads(result.out) if fmt == "json" else yaml.safe_load(result.out)
    assert data["valid"] is False and data["count"] == 2 == len(data["problems"])
    assert {p["path"] for p in data["problems"]} == {"hub.nodes", "bogus"}
    assert all(p["message"] for p in data["problems"])


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


# -- render as kind takes it (issue 10: defects 3, 13, 14, 15) ----------------------------


@needs_kind_validate
def test_render_one_cluster_as_json_is_one_object_kind_accepts(cli):
    result = cli("render", "-f", ARTICLE, "-c", "platform-hub", "-o", "json")
    assert result.code == 0
    config = json.loads(result.out)
    assert isinstance(config, dict) and config["name"] == "platform-hub"
    verdict = kind_validate({"stdin": result.out})["stdin"]
    assert verdict.ok, verdict.errors


def test_a_one_cluster_fleet_renders_one_json_object(cli, tmp_path):
    path = tmp_path / "one.yaml"
    path.write_text("apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: solo\n")
    assert json.loads(cli("render", "-f", str(path), "-o", "json").out)["name"] == "solo-hub"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_render_of_several_clusters_into_a_pipe_says_how_to_feed_kind(cli, fmt):
    result = cli("render", "-f", ARTICLE, "-o", fmt)
    assert result.code == 0
    assert "reads only the first" in result.err
    assert "-c platform-hub | kind create cluster --config -" in result.err
    assert "--out DIR" in result.err


def test_render_of_one_cluster_into_a_pipe_needs_no_advice(cli):
    result = cli("render", "-f", ARTICLE, "-c", "platform-spoke1")
    assert "reads only the first" not in result.err


def test_render_says_the_registry_step_plain_kind_does_not_do(cli):
    result = cli("render", "-f", ARTICLE, "-c", "platform-spoke1")
    steps = result.err
    assert "kind create cluster does not wire the registry" in steps
    assert "docker run -d --restart=always -p 127.0.0.1:5001:5000" in steps
    assert "for cluster in platform-spoke1; do" in steps
    assert 'kind get nodes --name "$cluster"' in steps
    assert '[host."http://kind-registry:5000"]' in steps
    assert "/etc/containerd/certs.d/localhost:5001/hosts.toml" in steps
    assert "docker network connect kind kind-registry" in steps
    assert "platform-hub" not in steps  # only the clusters rendered
    assert "# once" in steps  # the script itself: bash reads it (tests/integration/cli)


def test_render_without_a_registry_has_no_registry_step(cli, examples):
    result = cli("render", "-f", str(examples / "minimal.yaml"))
    assert "registry" not in result.err


def test_render_out_onto_a_file_is_a_clean_error(cli, tmp_path):
    target = tmp_path / "hub.yaml"
    target.write_text("mine")
    result = cli("render", "-f", ARTICLE, "-c", "platform-hub", "--out", str(target))
    assert result.code == 2
    assert "is not a directory" in result.err and "render -c NAME >" in result.err
    assert "bug" not in result.err
    assert target.read_text() == "mine"


@pytest.mark.parametrize("where", ["/proc/kindfleet-nowhere/kind", "{tmp}/file/sub"])
def test_render_out_where_nothing_can_be_written_is_a_clean_error(cli, tmp_path, where):
    (tmp_path / "file").write_text("x")
    result = cli("render", "-f", ARTICLE, "--out", where.format(tmp=tmp_path))
    assert result.code == 2
    assert "cannot write" in result.err
    assert "bug" not in result.err and "Traceback" not in result.err


def test_validate_says_how_it_read_relative_host_paths(cli, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(
        "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: m\n"
        "hub: {nodes: [{role: control-plane, mounts: [{hostPath: ./data, containerPath: /d}]}]}\n"
    )
    result = cli("validate", "-f", str(path))
    assert result.code == 0
    assert f"hub.nodes[0].mounts[0].hostPath: ./data is {tmp_path / 'data'}" in result.err
    rendered = yaml.safe_load(cli("render", "-f", str(path)).out)
    assert rendered["nodes"][0]["extraMounts"][0]["hostPath"] == str(tmp_path / "data")


def test_messages_quoting_markup_like_text_print_as_written(cli, tmp_path):
    """rich would read `[/x]` as a closing tag and crash; `[host."..."]` it would drop."""
    bad = tmp_path / "bad.yaml"
    bad.write_text('apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: x\nhub: {"[/x]": 1}\n')
    result = cli("validate", "-f", str(bad))
    assert result.code == 2
    assert "unknown field '[/x]'" in result.err


def test_render_of_an_empty_cluster_name_is_refused_not_every_cluster(cli):
    """Found from outside: `render -c ''` (a variable not set) printed every config."""
    result = cli("render", "-f", ARTICLE, "-c", "")
    assert result.code == 2 and "has no cluster ''" in result.err


def test_a_latency_past_an_hour_is_refused(cli):
    """Found from outside: 99999999999999h was taken, a partition in all but name."""
    result = cli("fault", "slow", "local-gpu", "--latency", "99999999999999h", "-f",
                 str(EXAMPLES / "local.yaml"))  # fmt: skip
    assert result.code == 2 and "--latency '99999999999999h' is out of range" in result.err
    assert "without --latency" not in result.err
