"""Rendered KIND configs: accepted by KIND's decoder, faithful to the fleet, golden."""

import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from kindfleet.fleet import load_fleet
from kindfleet.fleetspec import from_path
from kindfleet.kind import images
from kindfleet.render.kindconfig import render_fleet, to_yaml, to_yaml_stream
from tests.conftest import EXAMPLES, GOLDEN
from tests.kindvalidate import fleet_configs, kind_rejects, kind_validate, needs_kind_validate
from tests.unit.fleetspec.helpers import fleet
from tests.unit.render.kind_decoder import decode

GOLDEN_RENDER = GOLDEN / "render"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_renders_configs_kind_accepts(path):
    for name, config in render_fleet(from_path(path)).items():
        assert decode(config) == [], name
        assert config["name"] == name
        # Round trip through YAML text: what kind reads is what we meant.
        assert yaml.safe_load(to_yaml(config)) == config


_IMAGE_VERSION = re.compile(r"kindest/node:(v\d+\.\d+\.\d+)")


def _golden_configs():
    """Every config document under tests/golden, with the version its node image names."""
    for path in sorted(GOLDEN.glob("**/*.yaml")):
        for i, doc in enumerate(path.read_text().split("\n---\n")):
            found = _IMAGE_VERSION.search(doc)
            version = found.group(1) if found else images.DEFAULT_VERSION
            yield f"{path.relative_to(GOLDEN)}#{i}", doc, version


@needs_kind_validate
def test_examples_and_goldens_pass_kinds_own_validator_and_kubeadm_rendering():
    configs = list(_golden_configs())
    for path in sorted(EXAMPLES.glob("*.yaml")):
        configs += [(f"{path.name}:{n}", t, v) for n, t, v in fleet_configs(from_path(path))]
    assert len(configs) > 10
    assert kind_rejects(configs) == {}


@needs_kind_validate
def test_the_oracle_itself_can_refuse():
    """kind-validate must be able to say no, or the tests that use it prove nothing."""
    head = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
    bad_patch = "nodes:\n- role: control-plane\n  kubeadmConfigPatches: ['kind: X\\nx: [1']\n"
    refused = kind_rejects(
        [
            ("unknown field", head + "nodez: []\n", images.DEFAULT_VERSION),
            ("no control plane", head + "nodes: [{role: worker}]\n", images.DEFAULT_VERSION),
            ("broken patch", head + bad_patch, images.DEFAULT_VERSION),
            ("fine", head, images.DEFAULT_VERSION),
        ]
    )
    assert set(refused) == {"unknown field", "no control plane", "broken patch"}
    assert "nodez" in refused["unknown field"][0]


@pytest.mark.parametrize("example", ["article", "minimal", "five-spokes"])
def test_golden(example):
    """The exact stream `kindfleet render` prints; regenerate with KINDFLEET_REGOLD=1."""
    stream = to_yaml_stream(render_fleet(from_path(EXAMPLES / f"{example}.yaml")))
    golden = GOLDEN_RENDER / f"{example}.yaml"
    if os.environ.get("KINDFLEET_REGOLD"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(stream)
    assert stream == golden.read_text()


def _node_labels(node):
    """Labels a node ends up with, whether set by `labels` or by a kubeadm node-labels patch."""
    labels = dict(node.get("labels", {}))
    for patch in node.get("kubeadmConfigPatches", []):
        doc = yaml.safe_load(patch)
        extra = doc.get("nodeRegistration", {}).get("kubeletExtraArgs", {}).get("node-labels", "")
        labels.update(dict(item.split("=", 1) for item in extra.split(",") if item))
    return labels


def _article(name):
    return yaml.safe_load((GOLDEN / "article-original" / name).read_text())


def test_article_hub_config_is_reproduced():
    original = _article("hub-config.yaml")
    ours = load_fleet(EXAMPLES / "article.yaml").kind_configs("platform-hub")["platform-hub"]
    assert [n["role"] for n in ours["nodes"]] == [n["role"] for n in original["nodes"]]
    for mine, theirs in zip(ours["nodes"], original["nodes"], strict=True):
        assert _node_labels(mine) == _node_labels(theirs) == {"plane": "management"}
    assert "disableDefaultCNI" not in ours["networking"]


@pytest.mark.parametrize("spoke", ["platform-spoke1", "platform-spoke2", "platform-spoke3"])
def test_article_spoke_config_is_reproduced(spoke):
    original = _article("spoke-config.yaml")
    ours = load_fleet(EXAMPLES / "article.yaml").kind_configs(spoke)[spoke]
    assert ours["networking"]["disableDefaultCNI"] is original["networking"]["disableDefaultCNI"]
    assert [n["role"] for n in ours["nodes"]] == [n["role"] for n in original["nodes"]]
    worker = _node_labels(ours["nodes"][1])
    assert worker.items() >= _node_labels(original["nodes"][1]).items()
    assert worker["spoke-id"] == spoke[-1]  # the article's getting-started spoke-id=$i
    assert worker["cluster-role"] == "spoke"


def test_article_fleet_subnets_never_overlap():
    import ipaddress
    import itertools

    configs = load_fleet(EXAMPLES / "article.yaml").kind_configs()
    nets = [
        ipaddress.ip_network(c["networking"][key])
        for c in configs.values()
        for key in ("podSubnet", "serviceSubnet")
    ]
    assert len(nets) == 8
    for a, b in itertools.combinations(nets, 2):
        assert not a.overlaps(b)
    assert not any(n.overlaps(ipaddress.ip_network("172.16.0.0/12")) for n in nets)


def test_label_values_are_always_strings():
    spec = fleet("hub: {nodes: [{role: control-plane, labels: {gpu: true, n: 1, e: null}}]}\n")
    labels = render_fleet(spec)["t-hub"]["nodes"][0]["labels"]
    assert labels == {"gpu": "true", "n": "1", "e": ""}
    text = to_yaml(render_fleet(spec)["t-hub"])
    assert "gpu: 'true'" in text and "'n': '1'" in text  # the key too: 'n' is false in YAML 1.1


def test_registry_patch_is_valid_toml_pointing_at_certs_d():
    spec = fleet("registry: true\n")
    patches = render_fleet(spec)["t-hub"]["containerdConfigPatches"]
    parsed = tomllib.loads(patches[0])
    registry = parsed["plugins"]["io.containerd.grpc.v1.cri"]["registry"]
    assert registry == {"config_path": "/etc/containerd/certs.d"}


def test_no_registry_no_patch():
    assert "containerdConfigPatches" not in render_fleet(fleet())["t-hub"]


def test_taints_become_kubeadm_patches_for_the_right_document():
    spec = fleet("""
        hub:
          nodes:
            - role: control-plane
              taints: [{key: dedicated, value: mgmt, effect: NoSchedule}]
            - role: control-plane
              taints: [{key: dedicated, effect: NoExecute}]
            - role: worker
              taints: [{key: gpu, value: "true", effect: NoSchedule}]
        """)
    nodes = render_fleet(spec)["t-hub"]["nodes"]
    docs = [yaml.safe_load(n["kubeadmConfigPatches"][0]) for n in nodes]
    assert [d["kind"] for d in docs] == [
        "InitConfiguration",
        "JoinConfiguration",
        "JoinConfiguration",
    ]
    assert docs[0]["nodeRegistration"]["taints"] == [
        {"key": "dedicated", "value": "mgmt", "effect": "NoSchedule"}
    ]
    assert docs[1]["nodeRegistration"]["taints"] == [{"key": "dedicated", "effect": "NoExecute"}]


def test_networking_options_render_as_kind_fields():
    spec = fleet("""
        hub:
          networking:
            cni: none
            ipFamily: dual
            kubeProxyMode: nftables
            apiServerAddress: 0.0.0.0
            apiServerPort: 6443
            dnsSearch: []
        """)
    net = render_fleet(spec)["t-hub"]["networking"]
    assert net == {
        "ipFamily": "dual",
        "apiServerAddress": "0.0.0.0",
        "apiServerPort": 6443,
        "podSubnet": "10.244.0.0/16,fd00:10:244::/56",
        "serviceSubnet": "10.96.0.0/16,fd00:10:96::/112",
        "disableDefaultCNI": True,
        "kubeProxyMode": "nftables",
        "dnsSearch": [],
    }
    assert decode(render_fleet(spec)["t-hub"]) == []


def test_ports_and_mounts():
    spec = fleet("""
        hub:
          nodes:
            - role: control-plane
              portMappings:
                - {containerPort: 30080, hostPort: 8080}
                - {containerPort: 53, protocol: UDP, listenAddress: 127.0.0.1}
              mounts:
                - {hostPath: /tmp/d, containerPath: /data, readOnly: true, propagation: HostToContainer}
        """)
    node = render_fleet(spec)["t-hub"]["nodes"][0]
    assert node["extraPortMappings"] == [
        {"containerPort": 30080, "hostPort": 8080, "protocol": "TCP"},
        {"containerPort": 53, "listenAddress": "127.0.0.1", "protocol": "UDP"},
    ]
    assert node["extraMounts"] == [
        {
            "hostPath": "/tmp/d",
            "containerPath": "/data",
            "readOnly": True,
            "propagation": "HostToContainer",
        }
    ]


def test_raw_escape_hatch_reaches_every_kind_field():
    spec = fleet("""
        registry: true
        hub:
          kindConfig:
            featureGates: {InPlacePodVerticalScaling: true}
            runtimeConfig: {"api/alpha": "false"}
            kubeadmConfigPatches:
              - |
                kind: ClusterConfiguration
                apiServer: {extraArgs: {v: "4"}}
            kubeadmConfigPatchesJSON6902:
              - {group: kubeadm.k8s.io, version: v1beta4, kind: ClusterConfiguration, patch: "[]"}
            containerdConfigPatches:
              - |
                [plugins."io.containerd.grpc.v1.cri".containerd]
                  snapshotter = "native"
            containerdConfigPatchesJSON6902: ["[]"]
          nodes:
            - role: control-plane
              kindConfig:
                kubeadmConfigPatches: ["kind: InitConfiguration\\n"]
                kubeadmConfigPatchesJSON6902:
                  - {group: kubeadm.k8s.io, version: v1beta4, kind: InitConfiguration, patch: "[]"}
        """)
    config = render_fleet(spec)["t-hub"]
    assert decode(config) == []
    assert config["featureGates"] == {"InPlacePodVerticalScaling": True}
    assert config["runtimeConfig"] == {"api/alpha": "false"}
    assert len(config["containerdConfigPatches"]) == 2  # the registry's, then the user's
    assert config["kubeadmConfigPatches"][0].startswith("kind: ClusterConfiguration")
    assert config["kubeadmConfigPatchesJSON6902"][0]["kind"] == "ClusterConfiguration"
    assert config["containerdConfigPatchesJSON6902"] == ["[]"]
    assert config["nodes"][0]["kubeadmConfigPatches"] == ["kind: InitConfiguration\n"]
    assert config["nodes"][0]["kubeadmConfigPatchesJSON6902"][0]["kind"] == "InitConfiguration"


def test_node_image_per_group():
    spec = fleet("hub: {nodes: [{role: control-plane}, {role: worker, image: my/node:v1.36.0}]}\n")
    nodes = render_fleet(spec)["t-hub"]["nodes"]
    assert nodes[0]["image"].startswith("kindest/node:v1.37.0@sha256:")
    assert nodes[1]["image"] == "my/node:v1.36.0"


def test_decoder_catches_what_kind_would_refuse():
    """The stand-in decoder itself must be able to fail, or the tests above prove nothing."""
    assert decode({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodez": []})
    assert decode(
        {
            "kind": "Cluster",
            "apiVersion": "kind.x-k8s.io/v1alpha4",
            "nodes": [{"role": "worker", "labels": {"gpu": True}}],
        }
    )
    assert decode(
        {
            "kind": "Cluster",
            "apiVersion": "kind.x-k8s.io/v1alpha4",
            "containerdConfigPatches": ["[x"],
        }
    )
    assert decode(
        {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": [{"role": "worker"}]}
    )


# Strings that YAML 1.1, YAML 1.2 or Go's number parsing could take for another type, and
# that are still valid taint values: each must reach kubeadm as the very same string.
AMBIGUOUS_VALUES = [
    "1234e56", "1E5", "1e-3", "1.10", "0o17", "0x1F", "0b101", "1_000", "0777", "2001-12-14",
    "y", "Y", "n", "N", "on", "Off", "yes", "No", "true", "False", "null", "NULL", "inf", "NaN",
]  # fmt: skip


def _taints_of(kubeadm_output: str, node_kind: str) -> list[dict[str, str]]:
    """The taints kind wrote into a node's kubeadm config, each scalar as its literal text
    (BaseLoader: no typing), which is what kubeadm's string fields receive."""
    for doc in yaml.load_all(kubeadm_output, Loader=yaml.BaseLoader):
        if isinstance(doc, dict) and doc.get("kind") == node_kind:
            return doc["nodeRegistration"]["taints"]
    raise AssertionError(f"no {node_kind} in kind's output")


@needs_kind_validate
def test_taint_values_reach_kubeadm_exactly_as_written():
    taints = ", ".join(
        f'{{key: k{i}, value: "{v}", effect: NoSchedule}}' for i, v in enumerate(AMBIGUOUS_VALUES)
    )
    spec = fleet(f"hub: {{nodes: [{{role: control-plane, taints: [{taints}]}}]}}\n")
    (name, text, version), *_ = fleet_configs(spec)
    verdict = kind_validate({name: text}, kubeadm=version)[name]
    assert verdict.ok, verdict.errors
    got = _taints_of(verdict.output, "InitConfiguration")
    assert [t["value"] for t in got] == AMBIGUOUS_VALUES


def test_configs_written_to_a_directory_replace_a_link_never_write_through_it(tmp_path):
    """Found from outside (`render --out /tmp/configs` where another user put a link):
    the file the link named was overwritten with a KIND config."""
    from kindfleet import Fleet

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    fleet = Fleet.from_path(Path(__file__).resolve().parents[3] / "examples" / "article.yaml")
    hub = fleet.spec.hub.name
    (out / f"{hub}.yaml").symlink_to(victim)
    written = fleet.write_kind_configs(out)
    assert victim.read_text() == "precious\n"
    assert not (out / f"{hub}.yaml").is_symlink()
    assert (out / f"{hub}.yaml") in written and "kind: Cluster" in (out / f"{hub}.yaml").read_text()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
