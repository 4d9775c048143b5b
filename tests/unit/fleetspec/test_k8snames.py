import pytest

from kindfleet.fleetspec import k8snames


@pytest.mark.parametrize("name", ["a", "hub", "platform-spoke1", "a" * 63, "1abc"])
def test_dns_labels_accepted(name):
    assert k8snames.dns_label(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("A", "DNS-1123"),
        ("-a", "DNS-1123"),
        ("a-", "DNS-1123"),
        ("a_b", "DNS-1123"),
        ("a.b", "DNS-1123"),
        ("a" * 64, "limit is 63"),
        ("a\n", "DNS-1123"),  # Python's `$` matches before a final newline
    ],
)
def test_dns_labels_refused(name, why):
    assert why in k8snames.dns_label(name)


def test_dns_label_custom_limit():
    assert "limit is 40" in k8snames.dns_label("a" * 41, max_length=40)


@pytest.mark.parametrize(
    "key", ["gpu", "plane", "example.com/role", "a.b-c/x_y.z", "topology.kubernetes.io/zone", "A9"]
)
def test_label_keys_accepted(key):
    assert k8snames.label_key(key) is None


@pytest.mark.parametrize(
    "key", ["", "/x", "bad key", "-x", "x-", "Example.com/x", "a/" + "b" * 64, "a/b/c", "x" * 64]
)
def test_label_keys_refused(key):
    assert k8snames.label_key(key) is not None


@pytest.mark.parametrize("value", ["", "true", "compute-intensive", "v1.2_3", "a" * 63])
def test_label_values_accepted(value):
    assert k8snames.label_value(value) is None


@pytest.mark.parametrize("value", ["a b", "-a", "a-", "a" * 64, "{x}", "a/b"])
def test_label_values_refused(value):
    assert "label value" in k8snames.label_value(value)


@pytest.mark.parametrize(
    "key",
    ["node-role.kubernetes.io/worker", "kubernetes.io/role", "foo.k8s.io/bar", "k8s.io/x"],
)
def test_kubelet_cannot_self_label_restricted_namespaces(key):
    assert "never join" in k8snames.kubelet_may_set(key)


@pytest.mark.parametrize(
    "key",
    [
        "gpu",
        "example.com/x",
        "topology.kubernetes.io/zone",
        "node.kubernetes.io/pool",
        "kubelet.kubernetes.io/x",
        "kubernetes.io/hostname",
        "notkubernetes.io/x",
    ],
)
def test_kubelet_may_set_the_rest(key):
    assert k8snames.kubelet_may_set(key) is None


def test_a_final_line_break_is_refused_everywhere():
    assert k8snames.label_key("k\n") is not None
    assert k8snames.label_key("example.com\n/k") is not None
    assert k8snames.label_value("v\n") is not None
    assert not k8snames.dns_subdomain("corp.example.com\n")
    assert k8snames.dns_subdomain("corp.example.com")
