"""`kindfleet deploy` against the kind double and the real engine: a hub and two spokes
(one with a simulated-GPU worker) brought up with `kindfleet up`, then the platform
deployed with a locally made image, with and without the fleet's registry (with it, a
dry run first, which must change nothing). Everything is
read back with the real kubectl and docker; `down` still leaves nothing behind."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml
from tests.doubles import hubjoin
from tests.integration.docker.conftest import free_port
from tests.integration.docker.helpers import docker_lines, kindfleet, kubectl

from kindfleet.deploy.image import content_tag

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# What a registry may hold for a pushed image (Docker's schema 2, or OCI).
MANIFESTS = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)


def fleet_file(name: str, hub_port: int, registry: str | None) -> str:
    lines = [
        "apiVersion: kindfleet.dev/v1alpha1",
        "kind: Fleet",
        f"name: {name}",
        'kubernetesVersion: "1.35"',
    ]
    if registry:
        lines.append(f"registry: {{hostPort: {free_port()}, image: {registry}}}")
    lines += [
        "hub:",
        "  labels: {cluster-role: hub}",
        "  nodes:",
        "    - {role: control-plane, labels: {plane: management}, "
        f"portMappings: [{{containerPort: 30080, hostPort: {hub_port}}}]}}",
        "    - {role: worker, labels: {plane: management}}",
        "spokes:",
        f"  - name: {name}-cpu",
        "    labels: {workload-type: general}",
        f"  - name: {name}-gpu",
        "    nodes:",
        "      - role: control-plane",
        '      - {role: worker, labels: {gpu: "true"}, gpus: 2}',
    ]
    return "\n".join(lines) + "\n"


def ip_on(container: str, network: str) -> str:
    out = subprocess.run(
        ["docker", "inspect", container], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)[0]["NetworkSettings"]["Networks"][network]["IPAddress"]


def get(double, context: str, *args: str) -> dict:
    return json.loads(kubectl(double, context, "get", *args, "-o", "json"))


def image_id(ref: str) -> str:
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.strip()


@pytest.mark.parametrize("with_registry", [True, False], ids=["registry", "kind-load"])
def test_deploy_ships_the_image_and_wires_every_spoke_to_the_hub(  # noqa: PLR0917
    double, registry_image, smoke_image, name, tmp_path, with_registry
):
    hub_port = free_port()
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet_file(name, hub_port, registry_image if with_registry else None))
    env = {**double.env, "KINDFLEET_STATE_DIR": str(tmp_path / "state")}
    up = kindfleet(
        "up", "-f", str(path), "--skip-check", "inotify", "--skip-check", "cgroup", env=env
    )
    assert up.returncode == 0, up.stderr
    spec = yaml.safe_load(kindfleet("validate", "-f", str(path), "-o", "yaml", env=env).stdout)
    hub = spec["clusters"][0]["name"]
    if with_registry:  # one fleet up is enough to show the dry run too
        _dry_run_changes_nothing(double, path, env, spec, tmp_path / "state")

    # The simulated hub node runs no pods: a real hub on this machine answers its NodePort,
    # so that deploy can mint each spoke's join token through it.
    address = hubjoin.gateway(double.network)
    with hubjoin.fleet_hub(tmp_path / "hub", tmp_path / "state", name, host=address) as real:
        assert real.port is not None
        hubjoin.serve_node_port(f"{hub}-control-plane", address, real.port)
        _deploy_and_read_back(
            double, path, env, smoke_image, spec, with_registry=with_registry, hub_port=hub_port
        )


def _deploy_and_read_back(
    double, path, env, smoke_image, spec, *, with_registry: bool, hub_port: int
) -> None:
    name = spec["name"]
    hub, cpu, gpu = (c["name"] for c in spec["clusters"])
    result = kindfleet("deploy", "-f", str(path), "--no-wait", "--image", smoke_image, env=env)
    assert result.returncode == 0, result.stderr
    assert f"platform deployed on fleet {name}" in result.stderr
    assert "join tokens minted by the hub" in result.stderr

    # the image: pushed to the fleet's registry, or loaded into every node of every cluster
    if with_registry:
        port = spec["registry"]["host_port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/_catalog", timeout=10) as r:
            assert "kindfleet-test/platform-smoke" in json.load(r)["repositories"]
        # by the digest the registry answered the push with: what runs is what was pushed
        tag = f"localhost:{port}/kindfleet-test/platform-smoke:{name}"
        with urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{port}/v2/kindfleet-test/platform-smoke/manifests/{name}",
                method="HEAD",
                headers={"Accept": ", ".join(MANIFESTS)},
            ),
            timeout=10,
        ) as r:
            ref = f"{tag}@{r.headers['Docker-Content-Digest']}"
    else:
        # under a tag holding the image's ID: what runs is what was loaded
        ref = content_tag(smoke_image, image_id(smoke_image))
        marker = "/kind/images/" + image_id(smoke_image).replace(":", "-")
        for cluster in (hub, cpu, gpu):
            for node in (f"{cluster}-control-plane", f"{cluster}-worker"):
                assert docker_lines("exec", node, "cat", marker) == [ref]

    # the simulated GPUs reached the API through the status subresource
    node = get(double, f"kind-{gpu}", "node", f"{gpu}-worker")["status"]
    assert node["capacity"]["nvidia.com/gpu"] == "2"
    assert node["allocatable"]["nvidia.com/gpu"] == "2"
    assert (
        "nvidia.com/gpu"
        not in get(double, f"kind-{cpu}", "node", f"{cpu}-worker")["status"]["capacity"]
    )

    # every object on the right cluster, read back
    state = Path(env["KINDFLEET_STATE_DIR"]) / name
    client = (state / "tokens" / "client.token").read_text().strip()
    assert not (state / "tokens" / "bootstrap.token").exists()  # no fleet-wide spoke token
    hub_ip = ip_on(f"{hub}-control-plane", double.network)
    namespaces = {c: {i["metadata"]["name"] for i in get(double, f"kind-{c}", "namespaces")["items"]}
                  for c in (hub, cpu, gpu)}  # fmt: skip
    assert "platform-management" in namespaces[hub]
    assert "platform-control" not in namespaces[hub]
    hub_deploy = get(double, f"kind-{hub}", "deployment", "hub", "-n", "platform-management")
    assert hub_deploy["spec"]["template"]["spec"]["containers"][0]["image"] == ref
    secret = get(double, f"kind-{hub}", "secret", "hub-tokens", "-n", "platform-management")
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "client": client
    }
    hub_url = f"http://127.0.0.1:{hub_port}"  # through the node's published NodePort
    for spoke in (cpu, gpu):
        assert {"platform-control", "platform-workloads"} <= namespaces[spoke]
        assert "platform-management" not in namespaces[spoke]
        deploy = get(
            double, f"kind-{spoke}", "deployment", "orchestrator", "-n", "platform-control"
        )
        container = deploy["spec"]["template"]["spec"]["containers"][0]
        args = container["args"]
        assert args[args.index("--hub") + 1] == f"http://{hub_ip}:30080"
        assert args[args.index("--name") + 1] == spoke
        assert (container["image"], container["imagePullPolicy"]) == (ref, "IfNotPresent")
        assert deploy["spec"]["template"]["metadata"]["annotations"][
            "kindfleet.dev/image-id"
        ] == image_id(smoke_image)
        secret = get(
            double, f"kind-{spoke}", "secret", "orchestrator-bootstrap", "-n", "platform-control"
        )
        token = base64.b64decode(secret["data"]["token"]).decode()
        assert token.startswith("kfjoin.")
        assert hubjoin.register(hub_url, spoke, token) == 200  # the spoke joins with its own
        assert hubjoin.register(hub_url, spoke, token) == 401  # once
        egress = get(
            double,
            f"kind-{spoke}",
            "networkpolicy",
            "orchestrator-egress",
            "-n",
            "platform-control",
        )
        blocks = [
            p["ipBlock"]["cidr"]
            for rule in egress["spec"]["egress"]
            for p in rule.get("to", [])
            if "ipBlock" in p
        ]
        assert f"{hub_ip}/32" in blocks
        assert f"{ip_on(f'{spoke}-control-plane', double.network)}/32" in blocks  # its API server

    # how this machine reaches the hub: the host port published for the NodePort
    access = json.loads((state / "access.json").read_text())
    assert access["hub"] == f"http://127.0.0.1:{hub_port}"

    # deploy again: idempotent
    again = kindfleet("deploy", "-f", str(path), "--no-wait", "--image", smoke_image, env=env)
    assert again.returncode == 0, again.stderr

    down = kindfleet("down", "-f", str(path), env=env)
    assert down.returncode == 0, down.stderr
    assert not [n for n in docker_lines("ps", "-a", "--format", "{{.Names}}") if n.startswith(name)]
    assert double.network not in docker_lines("network", "ls", "--format", "{{.Name}}")


def _dry_run_changes_nothing(double, path, env, spec, state: Path) -> None:
    """`deploy --dry-run` on the fleet just brought up: it reads the clusters (the hub's
    address on the kind network) and changes nothing."""
    name = spec["name"]
    result = kindfleet("deploy", "-f", str(path), "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    hub, _, gpu = (c["name"] for c in spec["clusters"])
    hub_ip = ip_on(f"{hub}-control-plane", double.network)
    orchestrators = [
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "orchestrator"
    ]
    assert len(orchestrators) == 2
    for deploy in orchestrators:
        args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--hub") + 1] == f"http://{hub_ip}:30080"
    assert all(
        v.startswith("<redacted")
        for d in docs
        if d["kind"] == "Secret"
        for v in d["stringData"].values()
    )
    assert "server dry run" in result.stderr

    # nothing changed: no namespace, no GPU capacity, no image in the registry, no access
    assert "platform-management" not in kubectl(double, f"kind-{hub}", "get", "namespaces")
    node = get(double, f"kind-{gpu}", "node", f"{gpu}-worker")["status"]
    assert "nvidia.com/gpu" not in node["capacity"]
    with urllib.request.urlopen(
        f"http://127.0.0.1:{spec['registry']['host_port']}/v2/_catalog", timeout=10
    ) as r:
        assert json.load(r)["repositories"] == []
    assert not (state / name / "access.json").exists()
