"""Commands as data: the exact argv kindfleet hands to kind, docker and kubectl."""

from pathlib import Path

from kindfleet.fleetspec import from_text
from kindfleet.providers.kind import docker as dk
from kindfleet.providers.kind import kindcli as kind
from kindfleet.providers.kubectl import commands as kc

KC = Path("/tmp/kc")


def test_kind_commands():
    create = kind.create_cmd("hub", "kind: Cluster\n", KC)
    assert create.argv == (
        "kind", "create", "cluster", "--name", "hub", "--config=-", "--kubeconfig", "/tmp/kc",
    )  # fmt: skip
    assert create.stdin == "kind: Cluster\n"
    assert kind.create_cmd("hub", "", KC, retain=True).argv[-1] == "--retain"
    assert kind.delete_cmd("hub", KC).argv == (
        "kind", "delete", "cluster", "--name", "hub", "--kubeconfig", "/tmp/kc",
    )  # fmt: skip
    assert kind.get_clusters_cmd().argv == ("kind", "get", "clusters")
    assert kind.get_nodes_cmd("hub").argv == ("kind", "get", "nodes", "--name", "hub")
    assert kind.get_kubeconfig_cmd("hub").argv == ("kind", "get", "kubeconfig", "--name", "hub")
    assert kind.get_kubeconfig_cmd("hub", internal=True).argv[-1] == "--internal"
    assert kind.load_image_cmd("hub", "app:dev").argv == (
        "kind", "load", "docker-image", "--name", "hub", "app:dev",
    )  # fmt: skip
    assert kind.version_cmd().argv == ("kind", "version")


def test_registry_container_is_kinds_recipe_labelled():
    spec = from_text(
        "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: f\n"
        "registry: {name: kind-registry, hostPort: 5001}\n"
    )
    assert spec.registry is not None
    assert kind.registry_run_cmd(spec, spec.registry).argv == (
        "docker", "run", "--detach", "--name", "kind-registry", "--restart=always",
        "--label", "dev.kindfleet.fleet=f", "--label", "dev.kindfleet.role=registry",
        "--publish", "127.0.0.1:5001:5000", "--network", "bridge", "registry:3",
    )  # fmt: skip


def test_docker_commands():
    assert dk.ps_cmd(labels={"a": "b", "c": None}).argv == (
        "docker", "ps", "-a", "--filter", "label=a=b", "--filter", "label=c", "--format", "{{.Names}}",
    )  # fmt: skip
    assert dk.ps_cmd(network="kind").argv[3:5] == ("--filter", "network=kind")
    assert dk.inspect_cmd("a", "b").argv == ("docker", "inspect", "--type", "container", "a", "b")
    write = dk.write_file_cmd("n1", "/etc/containerd/certs.d/localhost:5001/hosts.toml", "x")
    assert write.argv == (
        "docker", "exec", "--interactive", "n1", "sh", "-c",
        'mkdir -p "/etc/containerd/certs.d/localhost:5001" && '
        'cat > "/etc/containerd/certs.d/localhost:5001/hosts.toml"',
    )  # fmt: skip
    assert write.stdin == "x"
    assert dk.stats_cmd("a").argv == (
        "docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", "a",
    )  # fmt: skip
    assert dk.network_connect_cmd("kind", "reg").argv == (
        "docker",
        "network",
        "connect",
        "kind",
        "reg",
    )
    assert dk.rm_cmd("a").argv == ("docker", "rm", "--force", "--volumes", "a")
    assert dk.network_ids_cmd("kind").argv == (
        "docker", "network", "ls", "--filter", "name=^kind$", "--format", "{{.ID}}",
    )  # fmt: skip
    assert dk.info_cmd().argv == ("docker", "info", "--format", "{{json .}}")


def test_job_logs_once_or_followed_and_their_tail():
    base = ("kubectl", "--kubeconfig", "/tmp/kc", "--context", "kind-s1", "logs", "job/j",
            "--namespace", "ns", "--container", "c")  # fmt: skip
    once = kc.job_logs_cmd(KC, "kind-s1", "ns", "j", "c")
    assert (once.argv, once.timeout) == ((*base, "--request-timeout=20s"), 60)
    tail = kc.job_logs_cmd(KC, "kind-s1", "ns", "j", "c", tail=5)
    assert tail.argv == (*base, "--tail=5", "--request-timeout=20s")
    followed = kc.job_logs_cmd(KC, "kind-s1", "ns", "j", "c", follow=True, tail=0)
    assert followed.argv == (*base, "--tail=0", "--follow", "--pod-running-timeout=5m")
    assert followed.timeout is None  # as long as the run


def test_kubectl_commands_always_name_file_and_context():
    assert kc.get_nodes_cmd(KC, "kind-hub").argv == (
        "kubectl", "--kubeconfig", "/tmp/kc", "--context", "kind-hub",
        "get", "nodes", "--output=json", "--request-timeout=20s",
    )  # fmt: skip
    apply = kc.apply_cmd(KC, "kind-hub", "kind: ConfigMap\n")
    assert apply.argv == (
        "kubectl", "--kubeconfig", "/tmp/kc", "--context", "kind-hub", "apply", "--server-side",
        "--force-conflicts", "--field-manager=kindfleet", "--filename=-",
    )  # fmt: skip
    assert apply.stdin == "kind: ConfigMap\n"
    assert kc.get_pods_cmd(KC, "c", "kube-system", "k8s-app=calico-node").argv[5:] == (
        "get", "pods", "--namespace", "kube-system", "--selector", "k8s-app=calico-node",
        "--output=json", "--request-timeout=20s",
    )  # fmt: skip
    assert kc.config_view_cmd(None, "prod").argv == (
        "kubectl", "config", "view", "--minify", "--flatten", "--context", "prod",
    )  # fmt: skip
    assert kc.client_version_cmd().argv == ("kubectl", "version", "--client", "--output=json")
