"""Calico's manifest (from a file, a URL, Calico's pinned release) patched per cluster,
and the registry wiring as text."""

import difflib
import gzip
import hashlib

import pytest
import yaml

from kindfleet import pins
from kindfleet.fleetspec.internal import Registry
from kindfleet.lifecycle.calicosource import CalicoManifests, ManifestError
from kindfleet.render import calico
from kindfleet.render import registry as reg
from tests.unit.lifecycle.conftest import CALICO, WHOLE_CALICO

EXCERPT = CALICO.read_text()
WHOLE = WHOLE_CALICO


def test_only_the_two_commented_lines_change():
    patched = calico.set_ipv4_pool(EXCERPT, "10.245.0.0/16")
    changed = [
        line
        for line in difflib.unified_diff(
            EXCERPT.splitlines(), patched.splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == [
        "-            # - name: CALICO_IPV4POOL_CIDR",
        '-            #   value: "192.168.0.0/16"',
        "+            - name: CALICO_IPV4POOL_CIDR",
        '+              value: "10.245.0.0/16"',
    ]
    docs = [d for d in yaml.safe_load_all(patched) if d]
    node = next(d for d in docs if d["kind"] == "DaemonSet")
    env = node["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "CALICO_IPV4POOL_CIDR", "value": "10.245.0.0/16"} in env
    assert len(docs) == len([d for d in yaml.safe_load_all(EXCERPT) if d])


def test_an_already_active_setting_is_replaced():
    once = calico.set_ipv4_pool(EXCERPT, "10.245.0.0/16")
    twice = calico.set_ipv4_pool(once, "10.99.0.0/16")
    assert twice == once.replace('"10.245.0.0/16"', '"10.99.0.0/16"')


def test_a_manifest_without_the_setting_is_refused():
    with pytest.raises(calico.ManifestError, match="found no"):
        calico.set_ipv4_pool("kind: ConfigMap\n", "10.1.0.0/16")
    with pytest.raises(calico.ManifestError, match="found 2"):
        calico.set_ipv4_pool(EXCERPT + "---\n" + EXCERPT, "10.1.0.0/16")
    with pytest.raises(calico.ManifestError, match="not an IPv4 range"):
        calico.set_ipv4_pool(EXCERPT, "fd00:10:244::/56")


def test_ipv4_pool_of_a_pod_subnet():
    assert calico.ipv4_pool("10.244.0.0/16") == "10.244.0.0/16"
    assert calico.ipv4_pool("fd00:10:244::/56, 10.245.0.0/16") == "10.245.0.0/16"
    with pytest.raises(calico.ManifestError, match="no IPv4 range"):
        calico.ipv4_pool("fd00:10:244::/56")


def test_manifest_url_is_pinned():
    assert calico.DEFAULT_VERSION == "v3.32.1"
    assert calico.manifest_url("v3.32.1") == (
        "https://raw.githubusercontent.com/projectcalico/calico/v3.32.1/manifests/calico.yaml"
    )


def test_encapsulation_is_vxlan_cross_subnet_and_nothing_else_changes():
    """Calico's kind guide's VXLANCrossSubnet: no IP-in-IP, so no ipip module needed."""
    patched = calico.set_encapsulation(EXCERPT)
    changed = [
        line
        for line in difflib.unified_diff(
            EXCERPT.splitlines(), patched.splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == [
        '-              value: "Always"',
        '+              value: "Never"',
        '-              value: "Never"',
        '+              value: "CrossSubnet"',
    ]
    node = next(d for d in yaml.safe_load_all(patched) if d and d["kind"] == "DaemonSet")
    env = {
        e["name"]: e.get("value") for e in node["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert (env["CALICO_IPV4POOL_IPIP"], env["CALICO_IPV4POOL_VXLAN"]) == ("Never", "CrossSubnet")
    assert calico.set_encapsulation(patched) == patched
    with pytest.raises(
        calico.ManifestError, match=r"one CALICO_IPV4POOL_VXLAN setting .* found no"
    ):
        calico.set_encapsulation(EXCERPT.replace("CALICO_IPV4POOL_VXLAN", "SOMETHING_ELSE"))


def test_the_whole_pinned_release_takes_both_patches_and_has_the_pinned_checksum():
    body = gzip.decompress(WHOLE.read_bytes())
    assert hashlib.sha256(body).hexdigest() == pins.CALICO_MANIFEST_SHA256[calico.DEFAULT_VERSION]
    patched = calico.set_encapsulation(calico.set_ipv4_pool(body.decode(), "10.245.0.0/16"))
    docs = [d for d in yaml.safe_load_all(patched) if d]
    node = next(
        d for d in docs if d["kind"] == "DaemonSet" and d["metadata"]["name"] == "calico-node"
    )
    env = {
        e["name"]: e.get("value") for e in node["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["CALICO_IPV4POOL_CIDR"] == "10.245.0.0/16"
    assert (env["CALICO_IPV4POOL_IPIP"], env["CALICO_IPV4POOL_VXLAN"]) == ("Never", "CrossSubnet")


def test_a_local_file_is_read_once_per_version(tmp_path):
    path = tmp_path / "calico-{version}.yaml"
    (tmp_path / "calico-v3.32.1.yaml").write_text("one")
    source = CalicoManifests(str(path))
    assert source.location("v3.32.1") == str(tmp_path / "calico-v3.32.1.yaml")
    assert source.get("v3.32.1") == "one"
    (tmp_path / "calico-v3.32.1.yaml").write_text("two")
    assert source.get("v3.32.1") == "one"
    with pytest.raises(ManifestError, match="cannot read Calico manifest"):
        source.get("v9.9.9")


REGISTRY = Registry("kind-registry", 5001, "127.0.0.1", "registry:3")


def test_hosts_toml_points_the_push_name_at_the_registry_container():
    assert reg.hosts_dir(REGISTRY) == "/etc/containerd/certs.d/localhost:5001"
    assert reg.hosts_toml(REGISTRY) == '[host."http://kind-registry:5000"]\n'


def test_kep_1755_configmap():
    configmap = yaml.safe_load(reg.local_registry_hosting_yaml(REGISTRY))
    assert configmap["metadata"] == {"name": "local-registry-hosting", "namespace": "kube-public"}
    hosting = yaml.safe_load(configmap["data"]["localRegistryHosting.v1"])
    assert hosting == {
        "host": "localhost:5001",
        "hostFromClusterNetwork": "kind-registry:5000",
        "help": "https://kind.sigs.k8s.io/docs/user/local-registry/",
    }


def test_the_images_a_manifest_runs_once_each():
    whole = gzip.decompress(WHOLE.read_bytes()).decode()
    assert calico.images(whole) == [
        "quay.io/calico/cni:v3.32.1",
        "quay.io/calico/node:v3.32.1",
        "quay.io/calico/kube-controllers:v3.32.1",
    ]
    assert calico.images('      - image: "a:1"\n        image: a:1 # again\n  #image: b\n') == [
        "a:1"
    ]
