"""Commands as data: the exact docker, kind and kubectl argv deploy runs, and the plan
that decides which of them run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kindfleet.deploy import image as im
from kindfleet.deploy.options import DeployOptions
from kindfleet.errors import UsageError
from kindfleet.platform.agent.executors.kubernetes.gpusim import gpu_status_patch
from kindfleet.providers.base import ProviderSettings
from kindfleet.providers.kind import KindProvider
from kindfleet.providers.kubectl import commands as kac
from kindfleet.providers.kubectl import parsing as kap
from tests.doubles.deployfakes import Runner, fleet

KC = Path("/tmp/kc")


def test_docker_commands():
    build = im.build_cmd(
        Path("/src"), "kindfleet/platform:0.1.0", {"PYTHON_IMAGE": "p:3.11", "X": "a=b"}
    )
    assert build.argv == (
        "docker", "build", "--force-rm", "--tag", "kindfleet/platform:0.1.0",
        "--build-arg", "PYTHON_IMAGE=p:3.11", "--build-arg", "X=a=b",
        "--file", "/src/Dockerfile", "/src",
    )  # fmt: skip
    assert im.tag_cmd("a:1", "localhost:5001/a:1").argv == (
        "docker",
        "tag",
        "a:1",
        "localhost:5001/a:1",
    )
    assert im.push_cmd("localhost:5001/a:1").argv == ("docker", "push", "localhost:5001/a:1")
    assert im.inspect_cmd("a:1").argv == (
        "docker",
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{.Size}}",
        "a:1",
    )
    assert im.parse_inspect("sha256:abc 1234\n") == ("sha256:abc", 1234)
    assert im.parse_inspect("") is None


def test_kind_load_goes_through_the_kind_provider():
    runner = Runner()
    KindProvider(ProviderSettings(runner=runner)).load_image(
        fleet(), "t-hub", "kindfleet/platform:0.1.0"
    )
    assert runner.calls[0].argv == (
        "kind",
        "load",
        "docker-image",
        "--name",
        "t-hub",
        "kindfleet/platform:0.1.0",
    )


def test_kubectl_commands():
    patch = kac.patch_node_status_cmd(KC, "kind-t", "t-worker", kac.gpu_patch(2), dry_run=False)
    assert patch.argv == (
        "kubectl", "--kubeconfig", "/tmp/kc", "--context", "kind-t", "patch", "node", "t-worker",
        "--subresource=status", "--type=merge", "--patch",
        '{"status": {"allocatable": {"nvidia.com/gpu": "2"}, "capacity": {"nvidia.com/gpu": "2"}}}',
        "--request-timeout=20s",
    )  # fmt: skip
    dry = kac.patch_node_status_cmd(KC, None, "n", kac.gpu_patch(1), dry_run=True)
    assert "--dry-run=server" in dry.argv and "--context" not in dry.argv
    assert kac.api_slices_cmd(KC, "kind-t").argv == (
        "kubectl", "--kubeconfig", "/tmp/kc", "--context", "kind-t", "get", "endpointslices",
        "--namespace", "default", "--selector", "kubernetes.io/service-name=kubernetes",
        "--output=json", "--request-timeout=20s",
    )  # fmt: skip
    apply = kac.dry_run_apply_cmd(KC, "kind-t", "kind: List\n")
    assert apply.argv[-4:] == (
        "--server-side",
        "--dry-run=server",
        "--field-manager=kindfleet",
        "--filename=-",
    )
    assert apply.stdin == "kind: List\n"


@pytest.mark.parametrize("count", [0, 1, 2, 8])
def test_the_gpu_patch_is_the_agents_own(count):
    assert kac.gpu_patch(count) == gpu_status_patch(count)


def test_api_server_addresses_from_endpoint_slices():
    text = json.dumps({"items": [
        {"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
                       {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
                       {"addresses": ["10.0.0.3", "10.0.0.1"]}]},
        {"endpoints": [{"addresses": ["fd00::1"]}]},
    ]})  # fmt: skip
    assert kap.parse_api_slices(text) == ["10.0.0.1", "10.0.0.3", "fd00::1"]
    assert kap.parse_api_slices('{"items": []}') == []


def test_context_of_a_one_cluster_kubeconfig():
    current = "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts: [{name: a, context: {}}, {name: b, context: {}}]\n"
    assert kap.context_of(current) == "a"
    only = "apiVersion: v1\nkind: Config\ncontexts: [{name: b, context: {}}]\n"
    assert kap.context_of(only) == "b"


@pytest.mark.parametrize(
    ("ref", "split"),
    [
        ("kindfleet/platform:0.1.0", (None, "kindfleet/platform", "0.1.0")),
        ("busybox", (None, "busybox", None)),
        ("localhost:5000/a/b:1", ("localhost:5000", "a/b", "1")),
        ("ghcr.io/o/p", ("ghcr.io", "o/p", None)),
        ("registry:5000/p:2", ("registry:5000", "p", "2")),
        ("p@sha256:" + "0" * 64, (None, "p", None)),
        ("localhost/p:1", ("localhost", "p", "1")),
    ],
)
def test_image_references(ref, split):
    assert im.split_reference(ref) == split


def test_an_image_in_the_fleets_registry_keeps_its_path_and_tag():
    registry = fleet().registry
    assert (
        im.in_registry(registry, "kindfleet/platform:0.1.0")
        == "localhost:5099/kindfleet/platform:0.1.0"
    )
    assert im.in_registry(registry, "ghcr.io/o/p") == "localhost:5099/o/p:latest"


def _plan(spec, owns=True, **options):
    return im.plan_image(
        spec,
        DeployOptions(**options),
        owns_clusters=owns,
        version="0.1.0",
        source_tree=Path("/src"),
    )


def test_plans():
    built = _plan(fleet())
    assert built == im.ImagePlan(
        "kindfleet/platform:0.1.0", Path("/src"), "localhost:5099/kindfleet/platform:0.1.0",
        False, "localhost:5099/kindfleet/platform:0.1.0", "Always",
    )  # fmt: skip
    loaded = _plan(fleet(registry=False), tag="me/p:dev", build_context=Path("/mine"))
    assert loaded == im.ImagePlan("me/p:dev", Path("/mine"), None, True, "me/p:dev", "IfNotPresent")
    given = _plan(fleet(registry=False), image="a:1")
    assert (given.build_context, given.load, given.ref) == (None, True, "a:1")
    existing = _plan(fleet(), owns=False, image="r.example.com/p:1")
    assert existing == im.ImagePlan(
        "r.example.com/p:1", None, None, False, "r.example.com/p:1", "IfNotPresent"
    )


def test_clusters_kindfleet_does_not_run_need_an_image_they_can_pull():
    with pytest.raises(UsageError) as caught:
        _plan(fleet(), owns=False)
    assert "need an image they can pull" in caught.value.message
    assert "--image REGISTRY/kindfleet/platform:TAG" in caught.value.hint


def test_an_installation_without_a_source_tree_says_to_pass_an_image():
    with pytest.raises(UsageError) as caught:
        im.plan_image(
            fleet(), DeployOptions(), owns_clusters=True, version="0.1.0", source_tree=None
        )
    assert "no source tree with a Dockerfile" in caught.value.message
    assert "--image REF" in caught.value.hint


def test_images_are_named_by_their_content():
    from kindfleet.deploy import image as im

    push = (
        "The push refers to repository [localhost:5001/kindfleet/platform]\n"
        "5f70bf18a086: Pushed\n"
        "0.1.0: digest: sha256:" + "d" * 64 + " size: 1783\n"
    )
    digest = "sha256:" + "d" * 64
    assert im.pushed_digest(push) == digest
    assert im.pushed_digest("denied: requested access to the resource is denied") is None
    assert im.by_digest("localhost:5001/kindfleet/platform:0.1.0", digest) == (
        f"localhost:5001/kindfleet/platform:0.1.0@{digest}"
    )
    assert im.by_digest(f"localhost:5001/p:1@{digest}", digest) == f"localhost:5001/p:1@{digest}"
    image_id = "sha256:5f1c2d3e4b6a" + "0" * 52
    assert (
        im.content_tag("kindfleet/platform:0.1.0", image_id)
        == "kindfleet/platform:0.1.0-5f1c2d3e4b6a"
    )
    assert (
        im.content_tag("localhost:5001/app", image_id) == "localhost:5001/app:latest-5f1c2d3e4b6a"
    )
