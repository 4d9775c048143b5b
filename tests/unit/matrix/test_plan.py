"""The matrix planner: per-version fleets renamed, at their version, and (for fleets that
run at once) on subnets and host ports no other fleet of the matrix has."""

from __future__ import annotations

import ipaddress
import itertools
from pathlib import Path

import pytest
import yaml

from kindfleet.errors import UsageError
from kindfleet.fleetspec import from_data
from kindfleet.kind import images
from kindfleet.matrix import label, parse_versions, plan

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def fleet(**fields):
    return {"apiVersion": "kindfleet.dev/v1alpha1", "kind": "Fleet", "name": "dev", **fields}


def example(name):
    return yaml.safe_load((EXAMPLES / name).read_text())


def every_name(spec):
    names = {spec.name, *(c.name for c in spec.clusters), *(c.context for c in spec.clusters)}
    names |= {n.name for c in spec.clusters for n in c.nodes}
    return names | ({spec.registry.name} if spec.registry else set())


def nets(spec):
    return [
        ipaddress.ip_network(part)
        for c in spec.clusters
        for text in (c.networking.pod_subnet, c.networking.service_subnet)
        for part in text.split(",")
    ]


def host_ports(spec):
    ports = [m.host_port for c in spec.clusters for n in c.nodes for m in n.port_mappings]
    ports += [c.networking.api_server_port for c in spec.clusters]
    ports += [spec.registry.host_port] if spec.registry else []
    return [p for p in ports if p]


# --- versions ---------------------------------------------------------------------------


def test_versions_resolve_to_the_pinned_images_in_order_each_once():
    assert parse_versions(["1.35,v1.36.4", " 1.34 ", "1.35"]) == ["v1.35.8", "v1.36.4", "v1.34.11"]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (["1.28"], "--versions: kind v0.33.0 publishes no node image for Kubernetes 1.28"),
        (["1.35,latest"], "--versions: 'latest' is not a Kubernetes version"),
        ([" , "], "--versions names no version"),
    ],
)
def test_a_version_with_no_pinned_image_is_refused_naming_the_flag(given, says):
    with pytest.raises(UsageError) as caught:
        parse_versions(given)
    assert caught.value.message == says
    assert caught.value.hint


def test_a_label_names_the_minor():
    assert [label(v) for v in images.available()] == ["v1-37", "v1-36", "v1-35", "v1-34"]


# --- names and versions ------------------------------------------------------------------


def test_each_version_is_a_fleet_of_its_own_at_that_version():
    made = plan(fleet(spokes=2), ["v1.35.8", "v1.36.4"])
    assert [r.fleet for r in made.runs] == ["dev-v1-35", "dev-v1-36"]
    first, second = (r.spec for r in made.runs)
    assert [c.name for c in first.clusters] == [
        "dev-v1-35-hub",
        "dev-v1-35-spoke1",
        "dev-v1-35-spoke2",
    ]
    assert {c.kubernetes_version for c in first.clusters} == {"v1.35.8"}
    assert {n.image for c in second.clusters for n in c.nodes} == {images.IMAGES["v1.36.4"]}
    assert not every_name(first) & every_name(second)
    assert not every_name(first) & every_name(made.base)


def test_names_written_out_get_the_version_too():
    data = fleet(
        hub={"name": "central"},
        registry={"name": "reg"},
        spokes={
            "count": 2,
            "namePattern": "edge{index}",
            "overrides": {"edge2": {"labels": {"tier": "two"}}},
        },
    )
    spec = plan(data, ["v1.35.8"]).runs[0].spec
    assert [c.name for c in spec.clusters] == ["central-v1-35", "edge1-v1-35", "edge2-v1-35"]
    assert spec.registry is not None and spec.registry.name == "reg-v1-35"
    assert spec.clusters[2].labels["tier"] == "two"  # the override keyed by name still applies


def test_list_spokes_and_a_pattern_with_the_fleet_follow_the_fleet_name():
    spec = plan(example("local.yaml"), ["v1.34.11"]).runs[0].spec
    assert [c.name for c in spec.clusters] == [
        "local-v1-34-hub",
        "local-gpu-v1-34",
        "local-cpu1-v1-34",
        "local-cpu2-v1-34",
    ]
    data = fleet(spokes={"count": 1, "namePattern": "{fleet}-gpu{index}"})
    assert plan(data, ["v1.34.11"]).runs[0].spec.clusters[1].name == "dev-v1-34-gpu1"


def test_every_image_written_in_the_file_gives_way_to_the_version():
    data = fleet(
        nodeImage="example.com/node:v1.37.0",
        hub={
            "nodeImage": "example.com/hub:v1.36.4",
            "nodes": [{"role": "control-plane", "image": "x/y:v1.35.8"}],
        },
        spokes=[{"kubernetesVersion": "1.37"}],
    )
    spec = plan(data, ["v1.34.11"]).runs[0].spec
    assert {n.image for c in spec.clusters for n in c.nodes} == {images.IMAGES["v1.34.11"]}


def test_one_cluster_varies_and_the_rest_keep_their_version():
    data = fleet(
        kubernetesVersion="1.37",
        spokes={
            "count": 2,
            "template": {"nodes": [{"role": "control-plane", "image": "x/y:v1.37.0"}]},
        },
    )
    spec = plan(data, ["v1.34.11"], cluster="dev-spoke2").runs[0].spec
    assert [c.kubernetes_version for c in spec.clusters] == ["v1.37.0", "v1.37.0", "v1.34.11"]
    assert spec.clusters[2].nodes[0].image == images.IMAGES["v1.34.11"]
    for count_form in (fleet(spokes=2), fleet(hub={"name": "h"}, spokes=[{}, {"name": "b"}])):
        made = plan(count_form, ["v1.35.8"], cluster=from_data(count_form).clusters[2].name)
        assert made.cluster == from_data(count_form).clusters[2].name
        assert [c.kubernetes_version for c in made.runs[0].spec.clusters] == [
            "v1.37.0",
            "v1.37.0",
            "v1.35.8",
        ]
    hub_only = plan(fleet(spokes=1), ["v1.35.8"], cluster="dev-hub").runs[0].spec
    assert [c.kubernetes_version for c in hub_only.clusters] == ["v1.35.8", "v1.37.0"]


def test_the_provider_can_be_changed_and_relative_mounts_stay_where_the_file_is(tmp_path):
    data = fleet(
        hub={
            "nodes": [
                {
                    "role": "control-plane",
                    "mounts": [{"hostPath": "data", "containerPath": "/data"}],
                }
            ]
        }
    )
    (tmp_path / "data").mkdir()
    made = plan(data, ["v1.35.8"], provider="local", base_dir=tmp_path)
    run = made.runs[0]
    assert run.spec.provider == "local" and run.data["provider"] == "local"
    mount = run.data["hub"]["nodes"][0]["mounts"][0]
    assert mount["hostPath"] == str(tmp_path / "data")
    assert data["hub"]["nodes"][0]["mounts"][0]["hostPath"] == "data"  # the input is not changed
    assert from_data(run.data).name == "dev-v1-35"  # the data stands on its own


# --- what runs at the same time ----------------------------------------------------------


def test_sequential_versions_keep_the_files_subnets_and_ports():
    data = example("article.yaml")
    made = plan(data, ["v1.35.8", "v1.36.4", "v1.37.0"])
    base = made.base
    assert made.parallel == 1 and {r.slot for r in made.runs} == {0}
    for run in made.runs:
        assert nets(run.spec) == nets(base)
        assert host_ports(run.spec) == host_ports(base)


@pytest.mark.parametrize("name", ["article.yaml", "five-spokes.yaml", "minimal.yaml"])
def test_fleets_that_run_at_once_share_no_subnet_and_no_host_port(name):
    data = example(name)
    made = plan(data, ["v1.34.11", "v1.35.8", "v1.36.4", "v1.37.0"], parallel=3)
    assert made.parallel == 3
    assert [r.slot for r in made.runs] == [0, 1, 2, 0]
    by_slot = {r.slot: r.spec for r in made.runs}
    assert nets(by_slot[0]) == nets(made.base)
    assert host_ports(by_slot[0]) == host_ports(made.base)
    container = [ipaddress.ip_network(c) for c in made.base.container_subnets]
    for a, b in itertools.combinations(by_slot.values(), 2):
        assert not any(x.overlaps(y) for x in nets(a) for y in nets(b))
        assert not set(host_ports(a)) & set(host_ports(b))
    for spec in by_slot.values():
        assert not any(n.overlaps(c) for n in nets(spec) for c in container)


def test_ports_move_past_every_port_another_fleet_publishes():
    data = fleet(
        registry={"hostPort": 5001},
        hub={
            "networking": {"apiServerPort": 5002},
            "nodes": [
                {
                    "role": "control-plane",
                    "portMappings": [{"containerPort": 80, "hostPort": 8080}],
                },
            ],
        },
        spokes={
            "count": 1,
            "template": {
                "nodes": [
                    {
                        "role": "control-plane",
                        "portMappings": [{"containerPort": 80, "hostPort": 8081}],
                    },
                ]
            },
        },
    )
    made = plan(data, ["v1.35.8", "v1.36.4"], parallel=2)
    assert sorted(host_ports(made.runs[0].spec)) == [5001, 5002, 8080, 8081]
    assert sorted(host_ports(made.runs[1].spec)) == [5003, 5004, 8082, 8083]


def test_parallel_is_never_more_than_the_versions():
    assert plan(fleet(), ["v1.35.8", "v1.36.4"], parallel=8).parallel == 2


@pytest.mark.parametrize("parallel", [0, -3])
def test_a_parallel_below_one_is_refused_naming_the_flag(parallel):
    with pytest.raises(UsageError) as caught:
        plan(fleet(), ["v1.35.8"], parallel=parallel)
    assert caught.value.message == f"--parallel {parallel}: must be at least 1"
    assert caught.value.exit_code == 2


def test_more_parallel_fleets_than_the_subnets_hold_is_refused_naming_the_flag():
    data = fleet(spokes=60)
    with pytest.raises(UsageError, match=r"^--parallel 4: no free IPv4") as caught:
        plan(data, ["v1.34.11", "v1.35.8", "v1.36.4", "v1.37.0"], parallel=4)
    assert "--parallel" in caught.value.hint


def test_a_port_with_no_free_port_above_it_is_refused():
    data = fleet(
        hub={
            "nodes": [
                {
                    "role": "control-plane",
                    "portMappings": [{"containerPort": 80, "hostPort": 65535}],
                }
            ]
        }
    )
    with pytest.raises(UsageError, match="no free host port above 65535"):
        plan(data, ["v1.35.8", "v1.36.4"], parallel=2)


# --- what cannot be planned --------------------------------------------------------------


def test_an_unknown_cluster_is_refused_naming_the_flag():
    with pytest.raises(UsageError) as caught:
        plan(fleet(spokes=2), ["v1.35.8"], cluster="dev-spoke9")
    assert caught.value.message == "--cluster: fleet 'dev' has no cluster 'dev-spoke9'"
    assert caught.value.hint == "did you mean 'dev-spoke2'?"


def test_existing_clusters_cannot_be_brought_up_at_a_version():
    with pytest.raises(UsageError, match="provider existing") as caught:
        plan(fleet(provider="existing"), ["v1.35.8"])
    assert "--provider kind" in caught.value.hint


def test_a_name_too_long_with_the_version_says_how_long_it_may_be():
    with pytest.raises(UsageError, match="longer than 30 characters") as caught:
        plan(fleet(name="a-fleet-with-a-long-long-name"), ["v1.35.8"])
    assert caught.value.hint == "shorten the fleet's name to 24 characters at most"


def test_a_cluster_name_too_long_with_the_version_is_refused_with_the_reason():
    data = fleet(hub={"name": "h" * 40})
    with pytest.raises(UsageError, match=r"^the fleet renamed for v1.35.8 is not valid: hub.name"):
        plan(data, ["v1.35.8"])
