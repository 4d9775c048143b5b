"""Reading files: YAML, header, strict schema; errors with paths and "did you mean"."""

import pytest

from kindfleet.errors import SpecError, UsageError
from kindfleet.fleetspec import from_path, from_text
from tests.conftest import EXAMPLES
from tests.unit.fleetspec.helpers import HEAD, fleet, problems


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_is_valid(path):
    spec = from_path(path)
    assert spec.clusters
    assert spec.source == str(path)


def test_article_example_shape():
    spec = from_path(EXAMPLES / "article.yaml")
    assert [c.name for c in spec.clusters] == [
        "platform-hub",
        "platform-spoke1",
        "platform-spoke2",
        "platform-spoke3",
    ]
    assert all(c.networking.cni == "calico" for c in spec.spokes)
    assert spec.hub.networking.cni == "kindnet"
    assert spec.registry is not None and spec.registry.name == "kind-registry"


def test_missing_file_is_a_usage_error():
    with pytest.raises(UsageError, match="does not exist") as caught:
        from_path("/nonexistent/fleet.yaml")
    assert caught.value.exit_code == 2
    assert "kindfleet init" in caught.value.hint


def _single(text):
    with pytest.raises(SpecError) as caught:
        from_text(text, source="f.yaml")
    assert caught.value.exit_code == 2
    assert len(caught.value.problems) == 1
    return caught.value.problems[0]


def test_bad_yaml_names_line_and_column():
    problem = _single("name: [\n")
    assert problem.path.startswith("line ")
    assert "not valid YAML" in problem.message


def test_several_documents_refused():
    assert "exactly one" in _single(HEAD + "---\n" + HEAD).message


@pytest.mark.parametrize("text", ["", "[]\n", "just a string\n", "42\n"])
def test_not_a_map(text):
    problem = _single(text)
    assert "kindfleet init" in (problem.fix or "") or "exactly one" in problem.message


def test_missing_api_version_says_what_to_add():
    problem = _single("kind: Fleet\nname: x\n")
    assert problem.path == "apiVersion"
    assert "kindfleet.dev/v1alpha1" in problem.fix


def test_unknown_api_version():
    problem = _single("apiVersion: kindfleet.dev/v9\nkind: Fleet\nname: x\n")
    assert "v9" in problem.message


def test_wrong_kind():
    assert problems("", head="apiVersion: kindfleet.dev/v1alpha1\nkind: Cluster\nname: x\n") == {
        "kind": "kind: 'Cluster' is not allowed (use one of 'Fleet')"
    }


@pytest.mark.parametrize(
    ("body", "path", "suggestion"),
    [
        ("spokez: 2\n", "spokez", "spokes"),
        ("hub: {nodez: []}\n", "hub.nodez", "nodes"),
        ("hub: {nodes: [{role: worker, lables: {}}]}\n", "hub.nodes[0].lables", "labels"),
        (
            "spokes: [{networking: {podSubnets: auto}}]\n",
            "spokes[0].networking.podSubnets",
            "podSubnet",
        ),
        ("spokes: {count: 2, templat: {}}\n", "spokes.templat", "template"),
        (
            "spokes: {count: 1, template: {nodes: [{role: worker, extraPortMappings: []}]}}\n",
            "spokes.template.nodes[0].extraPortMappings",
            None,
        ),
        ("registry: {hostport: 1}\n", "registry.hostport", "hostPort"),
    ],
)
def test_unknown_fields_get_did_you_mean(body, path, suggestion):
    found = problems(body)
    assert path in found, found
    assert "unknown field" in found[path]
    if suggestion:
        assert f"did you mean {suggestion!r}" in found[path]


def test_unknown_field_without_close_match_lists_known_keys():
    found = problems("hub: {zzzzzz: 1}\n")
    assert "known keys:" in found["hub.zzzzzz"]
    assert "networking" in found["hub.zzzzzz"]


def test_label_errors_name_the_node_group():
    found = problems(
        'spokes: [{nodes: [{role: control-plane}, {role: worker, labels: {"a b": x}}]}]\n'
    )
    assert "spokes[1]" not in found
    assert "spokes[0].nodes[1].labels['a b']" in found


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ("spokes: true\n", "spokes"),
        ("spokes: -1\n", "spokes"),
        ("spokes: {count: 1000}\n", "spokes.count"),
        ("hub: {nodes: [{role: worker}]}\n", "hub.nodes"),
        ("hub: {nodes: [{role: master}]}\n", "hub.nodes[0].role"),
        ("hub: {nodes: [{role: worker, count: 0}]}\n", "hub.nodes[0].count"),
        ("hub: {nodes: [{role: worker, count: '2'}]}\n", "hub.nodes[0].count"),
        (
            "hub: {nodes: [{role: control-plane, portMappings: [{containerPort: 70000}]}]}\n",
            "hub.nodes[0].portMappings[0].containerPort",
        ),
        (
            "hub: {nodes: [{role: control-plane, portMappings: [{containerPort: 1, listenAddress: x}]}]}\n",
            "hub.nodes[0].portMappings[0].listenAddress",
        ),
        (
            "hub: {nodes: [{role: control-plane, mounts: [{hostPath: /a, containerPath: rel}]}]}\n",
            "hub.nodes[0].mounts[0].containerPath",
        ),
        (
            "hub: {nodes: [{role: control-plane, taints: [{key: a, effect: Never}]}]}\n",
            "hub.nodes[0].taints[0].effect",
        ),
        (
            "hub: {nodes: [{role: control-plane, taints: [{key: a, effect: NoSchedule}, "
            "{key: a, value: b, effect: NoSchedule}]}]}\n",
            "hub.nodes[0].taints",
        ),
        (
            "hub: {nodes: [{role: control-plane, portMappings: [{containerPort: 1, protocol: icmp}]}]}\n",
            "hub.nodes[0].portMappings[0].protocol",
        ),
        ("hub: {networking: {kubeProxyMode: userspace}}\n", "hub.networking.kubeProxyMode"),
        ("hub: {networking: {ipFamily: ipv5}}\n", "hub.networking.ipFamily"),
        ("provider: minikube\n", "provider"),
        ("name: x\n", "name"),  # duplicate key: the later wins, so this one is valid...
    ][:-1],
)
def test_field_errors_have_paths(body, path):
    assert path in problems(body)


def test_name_is_required_and_checked():
    assert "name" in problems("", head="apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\n")
    assert "DNS-1123" in problems("", head=HEAD.replace("name: t", "name: Platform_1"))["name"]


@pytest.mark.parametrize(
    ("registry", "field", "words"),
    [
        ('{name: "r\\e[31m"}', "registry.name", "DNS-1123 label"),
        ("{name: Kind_Registry}", "registry.name", "DNS-1123 label"),
        ("{listenAddress: localhost}", "registry.listenAddress", "not an IP address"),
        ('{image: "registry:3; rm -rf /"}', "registry.image", "not an image reference"),
        ('{image: "reg\\nistry"}', "registry.image", "not an image reference"),
    ],
)
def test_the_registry_fields_are_checked(registry, field, words):
    found = problems(f"registry: {registry}\n")
    assert words in found[field], found


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('nodeImage: "kindest/node:v1\\e[31m"\n', "nodeImage", "not an image reference"),
        ('hub: {nodeImage: "a b"}\n', "hub.nodeImage", "not an image reference"),
        ('hub: {nodes: [{role: control-plane, image: "x\\n"}]}\n', "hub.nodes[0].image",
         "not an image reference"),
        ('hub: {networking: {dnsSearch: ["a\\e[31m"]}}\n', "hub.networking.dnsSearch",
         "not a DNS domain"),
    ],
)  # fmt: skip
def test_text_that_reaches_docker_and_kind_is_checked(body, field, words):
    found = problems(body)
    assert words in found[field], found


def test_a_name_with_a_final_line_break_is_refused():
    found = problems("spokes: 1\n", head=HEAD.replace("name: t", 'name: "t\\n"'))
    assert "DNS-1123" in found["name"], found


def test_a_registry_image_may_name_its_registry_port_and_digest():
    digest = "@sha256:" + "0" * 64
    for image in ("registry:3", "my.mirror:5000/library/registry:3", f"registry{digest}"):
        assert fleet(f'registry: {{image: "{image}"}}\n').registry.image == image


def test_taints_of_one_key_and_other_effects_and_a_lowercase_protocol_are_taken():
    """As kind and Kubernetes take them: a key once per effect; `tcp` is TCP (kind's own
    reading; kindfleet alone refused it, found from outside)."""
    spec = fleet(
        "hub: {nodes: [{role: control-plane, taints: [{key: a, effect: NoSchedule}, "
        "{key: a, effect: NoExecute}], portMappings: [{containerPort: 80, protocol: udp}]}]}\n"
    )
    (node,) = spec.hub.nodes
    assert [t.effect for t in node.taints] == ["NoSchedule", "NoExecute"]
    assert node.port_mappings[0].protocol == "UDP"
