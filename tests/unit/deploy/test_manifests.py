"""The platform's manifests: valid for each cluster's Kubernetes version, least privilege,
and NetworkPolicies that make the data boundary real."""

import kubernetes_validate
import pytest

from kindfleet.deploy.manifests import DeployFacts, kustomization, render_manifests
from kindfleet.fleetspec import from_path
from tests.conftest import EXAMPLES
from tests.unit.render.netpol_eval import Peer, egress_allowed

ARTICLE = from_path(EXAMPLES / "article.yaml")
FACTS = DeployFacts(
    image="localhost:5000/kindfleet/platform:dev",
    hub_host="172.18.0.2",
    api_server_addresses={"platform-spoke1": ["172.18.0.5"]},
    client_token="c" * 20,
    join_tokens={"platform-spoke1": "kfjoin.0123456789ab." + "s" * 32},
)
KUBE_DNS = {
    "ip": "10.97.0.10",
    "port": 53,
    "protocol": "UDP",
    "pod_namespace": "kube-system",
    "pod_labels": {"k8s-app": "kube-dns"},
    "namespace_labels": {"kubernetes.io/metadata.name": "kube-system"},
}


def _all(fleet, facts=FACTS):
    return render_manifests(fleet, facts)


@pytest.mark.parametrize("example", ["article", "five-spokes", "minimal"])
def test_every_manifest_validates_against_its_clusters_kubernetes_version(example):
    fleet = from_path(EXAMPLES / f"{example}.yaml")
    for name, objects in _all(fleet).items():
        version = fleet.cluster(name).kubernetes_version
        for obj in objects:
            kubernetes_validate.validate(obj, version, strict=True)


def test_validator_can_fail():
    bad = render_manifests(ARTICLE)["platform-hub"][4]
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "v1.35.8", strict=True)


def _kinds(objects):
    return [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]


def test_hub_gets_the_management_services():
    hub = _all(ARTICLE)["platform-hub"]
    assert ("Deployment", "platform-management", "hub") in _kinds(hub)
    service = next(o for o in hub if o["kind"] == "Service")
    assert service["spec"]["type"] == "NodePort"
    deployment = next(o for o in hub if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"plane": "management"}  # the article's management nodes
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert pod["containers"][0]["image"] == FACTS.image


def test_every_spoke_gets_the_orchestrator():
    for name in ("platform-spoke1", "platform-spoke2", "platform-spoke3"):
        objects = _all(ARTICLE)[name]
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        assert deployment["metadata"]["namespace"] == "platform-control"
        assert deployment["spec"]["template"]["metadata"]["labels"]["app"] == "orchestrator"
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--name") + 1] == name
        assert args[args.index("--hub") + 1] == "http://172.18.0.2:30080"
        assert args[args.index("--executor") + 1] == "kubernetes"
        labels = args[args.index("--labels") + 1]
        assert "gpu=true" in labels


def test_orchestrator_rbac_is_least_privilege():
    objects = _all(ARTICLE)["platform-spoke1"]
    roles = [o for o in objects if o["kind"] in ("Role", "ClusterRole")]
    for role in roles:
        for rule in role["rules"]:
            assert "*" not in rule["verbs"]
            assert "*" not in rule["resources"]
            assert "secrets" not in rule["resources"]
    role = next(o for o in roles if o["kind"] == "Role")
    assert role["metadata"]["namespace"] == "platform-workloads"
    cluster_role = next(o for o in roles if o["kind"] == "ClusterRole")
    assert cluster_role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]


def test_platform_namespaces_enforce_the_restricted_pod_security_standard():
    for objects in _all(ARTICLE).values():
        for namespace in (o for o in objects if o["kind"] == "Namespace"):
            labels = namespace["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
            assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_every_probe_has_a_timeout_and_liveness_waits_for_startup():
    for objects in _all(ARTICLE).values():
        for deployment in (o for o in objects if o["kind"] == "Deployment"):
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            probes = {k: v for k, v in container.items() if k.endswith("Probe")}
            assert {"startupProbe", "livenessProbe"} <= set(probes)
            assert all(p["timeoutSeconds"] >= 5 for p in probes.values())
            startup = probes["startupProbe"]
            assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


def test_containers_are_non_root_and_locked_down():
    for objects in _all(ARTICLE).values():
        for deployment in (o for o in objects if o["kind"] == "Deployment"):
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                sc = container["securityContext"]
                assert sc["runAsNonRoot"] is True
                assert sc["allowPrivilegeEscalation"] is False
                assert sc["readOnlyRootFilesystem"] is True
                assert sc["capabilities"] == {"drop": ["ALL"]}


def test_secrets_are_redacted_offline():
    for objects in render_manifests(ARTICLE).values():
        for secret in (o for o in objects if o["kind"] == "Secret"):
            assert all(v.startswith("<redacted") for v in secret["stringData"].values())


def _policies(cluster):
    return [o for o in _all(ARTICLE)[cluster] if o["kind"] == "NetworkPolicy"]


WORKLOAD = ("platform-workloads", {"job-name": "train"})
ORCHESTRATOR = ("platform-control", {"app": "orchestrator"})


@pytest.mark.parametrize(
    ("who", "dest", "allowed"),
    [
        (WORKLOAD, Peer("8.8.8.8", 443), False),  # the internet
        (WORKLOAD, Peer("172.18.0.2", 30080), False),  # the hub: only the orchestrator
        (WORKLOAD, Peer("172.18.0.9", 6443), False),  # another cluster's API server
        (WORKLOAD, Peer(**KUBE_DNS), True),
        (WORKLOAD, Peer("10.245.1.7", 8080, pod_namespace="platform-workloads"), True),
        (WORKLOAD, Peer("10.245.1.8", 80, pod_namespace="default"), True),
        (ORCHESTRATOR, Peer("172.18.0.2", 30080), True),  # telemetry-only egress
        (ORCHESTRATOR, Peer("172.18.0.2", 22), False),
        (ORCHESTRATOR, Peer("172.18.0.3", 30080), False),  # another node: not the hub
        (ORCHESTRATOR, Peer("10.97.0.1", 443), True),  # its own API server (Service)
        (ORCHESTRATOR, Peer("172.18.0.5", 6443), True),  # ...and after DNAT
        (ORCHESTRATOR, Peer("172.18.0.9", 6443), False),  # another cluster's API server
        (ORCHESTRATOR, Peer("1.1.1.1", 443), False),
        (ORCHESTRATOR, Peer(**KUBE_DNS), True),
    ],
)
def test_network_policies_make_the_data_boundary_real(who, dest, allowed):
    namespace, labels = who
    assert egress_allowed(_policies("platform-spoke1"), namespace, labels, dest) is allowed


def test_hub_never_dials_out_except_dns():
    policies = [o for o in _all(ARTICLE)["platform-hub"] if o["kind"] == "NetworkPolicy"]
    hub = ("platform-management", {"app": "hub"})
    assert not egress_allowed(policies, *hub, Peer("172.18.0.5", 30080))
    assert egress_allowed(policies, *hub, Peer("10.96.0.10", 53, "UDP"))


def test_offline_fallback_uses_the_container_network():
    policies = [
        o for o in render_manifests(ARTICLE)["platform-spoke1"] if o["kind"] == "NetworkPolicy"
    ]
    assert egress_allowed(policies, *ORCHESTRATOR, Peer("172.18.0.2", 30080))
    assert not egress_allowed(policies, *ORCHESTRATOR, Peer("8.8.8.8", 30080))
    assert not egress_allowed(policies, *WORKLOAD, Peer("172.18.0.2", 30080))


def test_one_cluster_and_kustomization():
    only = render_manifests(ARTICLE, FACTS, cluster="platform-spoke2")
    assert list(only) == ["platform-spoke2"]
    assert kustomization(["a.yaml"])["resources"] == ["a.yaml"]
