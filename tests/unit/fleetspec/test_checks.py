"""Fleet-wide checks and messages: what `up` would refuse later is refused now, once per
cause, with a path and a fix."""

import os

import pytest

from kindfleet.fleetspec import from_path
from tests.unit.fleetspec.helpers import HEAD, fleet, problems

# -- kubeconfig contexts ------------------------------------------------------------------


def test_a_template_context_shared_by_every_spoke_is_refused_once():
    found = problems("spokes: {count: 3, template: {context: same}}\n")
    assert list(found) == ["spokes.template.context"]
    assert "every spoke made from it the same context 'same'" in found["spokes.template.context"]


def test_an_explicit_context_may_not_take_another_clusters_default():
    found = problems("hub: {context: kind-cx-s1}\nspokes: [{name: cx-s1}]\n")
    assert "also cx-s1's, its default" in found["hub.context"]


def test_two_explicit_contexts_clash():
    found = problems("hub: {context: a}\nspokes: [{context: a}]\n")
    assert "'a' is also t-hub's" in found["spokes[0].context"]


def test_distinct_contexts_are_fine():
    spec = fleet("hub: {context: mine}\nspokes: 2\n")
    assert [c.context for c in spec.clusters] == ["mine", "kind-t-spoke1", "kind-t-spoke2"]


# -- what up would refuse -----------------------------------------------------------------


def test_calico_on_an_ipv6_only_cluster_is_refused():
    found = problems("spokes: [{networking: {cni: calico, ipFamily: ipv6}}]\n")
    assert "IPv4 pool" in found["spokes[0].networking.cni"]
    assert "ipFamily: dual" in found["spokes[0].networking.cni"]
    assert fleet("spokes: [{networking: {cni: calico, ipFamily: dual}}]\n").spokes


@pytest.mark.parametrize("address", ["localhost", "my-host", "127.0.0.1:6443", ""])
def test_api_server_address_must_be_an_ip(address):
    found = problems(f"hub: {{networking: {{apiServerAddress: '{address}'}}}}\n")
    assert "not an IP address" in found["hub.networking.apiServerAddress"]


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "::1"])
def test_api_server_address_ips_are_fine(address):
    spec = fleet(f"hub: {{networking: {{apiServerAddress: '{address}'}}}}\n")
    assert spec.hub.networking.api_server_address == address


def test_calico_version_must_be_a_release_tag():
    found = problems("hub: {networking: {cni: calico, calicoVersion: '3.28'}}\n")
    assert "v3.33.1" in found["hub.networking.calicoVersion"]


# -- mounts -------------------------------------------------------------------------------


def _mount(host_path):
    return f"hub: {{nodes: [{{role: control-plane, mounts: [{{hostPath: '{host_path}', containerPath: /d}}]}}]}}\n"


def test_relative_host_paths_are_read_from_the_fleet_files_directory(tmp_path, monkeypatch):
    path = tmp_path / "fleets" / "f.yaml"
    path.parent.mkdir()
    path.write_text(HEAD + _mount("./data/../cache"))
    monkeypatch.chdir("/")

    spec = from_path(path)
    assert spec.hub.nodes[0].mounts[0].host_path == str(tmp_path / "fleets" / "cache")
    assert any(
        "hub.nodes[0].mounts[0].hostPath: ./data/../cache is " in n and "fleet file" in n
        for n in spec.notes
    )


def test_home_is_expanded():
    spec = fleet(_mount("~/x"))
    assert spec.hub.nodes[0].mounts[0].host_path == os.path.expanduser("~/x")
    assert any("~ expanded" in n for n in spec.notes)


def test_absolute_paths_are_kept_without_a_note():
    spec = fleet(_mount("/srv/data"))
    assert spec.hub.nodes[0].mounts[0].host_path == "/srv/data"
    assert spec.notes == ()


def test_a_nul_in_a_path_is_a_problem():
    """Found from outside: validate passed it and render wrote it into kind's config."""
    body = (
        'hub: {nodes: [{role: control-plane, mounts: [{hostPath: "/x\\0", containerPath: /d}]}]}\n'
    )
    found = problems(body)
    assert "cannot hold a NUL" in found["hub.nodes[0].mounts[0].hostPath"]


def test_unknown_user_home_is_a_problem():
    found = problems(_mount("~no-such-user-kf/x"))
    assert "names no user" in found["hub.nodes[0].mounts[0].hostPath"]


# -- labels -------------------------------------------------------------------------------


def test_every_bad_label_of_a_map_is_reported():
    found = problems("hub: {labels: {a: '-x', 'b c': y, d: 'z!', ok: fine}}\n")
    assert set(found) == {"hub.labels.a", "hub.labels['b c']", "hub.labels.d"}
    assert not any("quote booleans" in message for message in found.values())


def test_every_bad_node_label_is_reported_after_placeholders():
    found = problems("""
        spokes:
          count: 2
          namePattern: "{fleet}-{index}"
          template:
            nodes:
              - role: control-plane
                labels: {a: "{name}-", b: "x{index}!"}
        """)
    assert {"spokes.template.nodes[0].labels.a", "spokes.template.nodes[0].labels.b"} <= set(found)


def test_a_negative_gpu_label_on_gpu_nodes_is_refused():
    found = problems(
        "spokes: [{nodes: [{role: control-plane}, {role: worker, gpus: 1, labels: {gpu: 'false'}}]}]\n"
    )
    message = found["spokes[0].nodes[1].labels.gpu"]
    assert "contradicts gpus: 1" in message


def test_a_negative_gpu_label_on_a_gpu_cluster_is_refused():
    found = problems("provider: local\nspokes: [{labels: {gpu: 'false'}, capacity: {gpu: 1}}]\n")
    assert "contradicts 1 GPU(s)" in found["spokes[0].labels.gpu"]


def test_gpu_nodes_may_carry_a_positive_gpu_label():
    spec = fleet("hub: {nodes: [{role: control-plane, gpus: 1, labels: {gpu: 'true'}}]}\n")
    assert spec.hub.gpus == 1


# -- warnings -----------------------------------------------------------------------------


@pytest.mark.parametrize("cni", ["kindnet", "calico"])
def test_kube_proxy_none_without_a_replacement_warns(cni):
    spec = fleet(
        f"spokes: {{count: 3, template: {{networking: {{cni: {cni}, kubeProxyMode: none}}}}}}\n"
    )
    (warning,) = spec.warnings  # once for the template, not once per spoke
    assert warning.startswith("spokes.template.networking.kubeProxyMode")
    assert "Services will not work" in warning


def test_kube_proxy_none_with_cni_none_is_the_users_choice():
    assert fleet("hub: {networking: {cni: none, kubeProxyMode: none}}\n").warnings == ()


# -- messages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ("spokes: 1000\n", "spokes", "1000 spokes is more than a fleet holds: at most 100"),
        ("spokes: {count: 101}\n", "spokes.count", "split the spokes over several fleet files"),
        ("kubernetesVersion: 1.30\n", "kubernetesVersion", 'the number 1.30 (quote it: "1.30")'),
        ("hub: {name: no}\n", "hub.name", None),  # YAML 1.2: `no` is a string, and a fine name
        ("hub: {name: true}\n", "hub.name", 'the boolean true (quote it: "true")'),
        (
            'spokes: {count: 2, namePattern: "{fleet}-{idx}"}\n',
            "spokes.namePattern",
            "{idx} is not a placeholder (did you mean '{index}'?)",
        ),
        ("spokes: {count: 2, namePattern: same}\n", "spokes.namePattern", "has no {index}"),
        (
            "hub: {nodes: [{role: control-plane, count: 51}]}\n",
            "hub.nodes[0].count",
            "at most 50, not 51",
        ),
    ],
)
def test_messages_say_why_and_how(body, path, words):
    if words is None:
        assert fleet(body)
        return
    assert words in problems(body)[path]


def test_a_pattern_made_name_is_reported_at_the_pattern_once():
    found = problems('spokes: {count: 40, namePattern: "{fleet}_{index}"}\n')
    assert list(found) == ["spokes.namePattern"]
    assert "(and 39 more like it)" in found["spokes.namePattern"]


def test_a_long_list_is_refused_before_its_spokes_are_read():
    found = problems("spokes: [" + ", ".join(["{nodez: 1}"] * 5000) + "]\n")
    assert list(found) == ["spokes"]


def test_a_template_host_port_is_one_problem_not_one_per_spoke():
    found = problems("""
        spokes:
          count: 50
          template:
            nodes:
              - role: control-plane
                portMappings: [{containerPort: 80, hostPort: 8080}]
        """)
    assert list(found) == ["spokes.template.nodes[0].portMappings[0].hostPort"]
    assert "(and 48 more like it)" in found["spokes.template.nodes[0].portMappings[0].hostPort"]


def test_a_template_subnet_is_one_problem_not_one_per_spoke():
    found = problems("spokes: {count: 30, template: {networking: {podSubnet: 10.50.0.0/16}}}\n")
    assert list(found) == ["spokes.template.networking.podSubnet"]
    assert "every spoke made from it" in found["spokes.template.networking.podSubnet"]


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("{cpu: .inf}", "hub.capacity.cpu: must be a finite number"),
        ("{cpu: 1e400}", "hub.capacity.cpu: must be a finite number"),
        ("{cpu: 0.0000001}", "hub.capacity.cpu: must be at least 0.001"),
        ("{memory: '" + "9" * 400 + "Ei'}", "larger than any machine's: at most 8Ei"),
    ],
)
def test_a_capacity_no_machine_has_is_one_clear_problem(written, says):
    """Found from outside: these were "unexpected OverflowError ... this is a bug" (exit 1),
    or a cpu of 0 millicores that passed."""
    found = problems(f"provider: local\nhub: {{capacity: {written}}}\n")
    assert any(says in message for message in found.values()), found
