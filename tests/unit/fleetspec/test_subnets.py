import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindfleet.fleetspec.netindex import NetworkIndex
from kindfleet.fleetspec.subnets import AUTO, Request, allocate

DOCKER = ["172.16.0.0/12"]


def req(name="c", family="ipv4", pod=AUTO, service=AUTO, nodes=2):
    return Request(name, family, pod, service, f"{name}.networking", nodes)


def nets(allocations):
    for a in allocations:
        for text in (a.pod, a.service):
            for part in text.split(","):
                yield ipaddress.ip_network(part)


def test_single_cluster_gets_kinds_defaults():
    allocs, problems = allocate([req()], DOCKER)
    assert problems == []
    assert (allocs[0].pod, allocs[0].service) == ("10.244.0.0/16", "10.96.0.0/16")


def test_fleet_ranges_are_distinct_and_in_order():
    allocs, problems = allocate([req(f"c{i}") for i in range(4)], DOCKER)
    assert problems == []
    assert [a.pod for a in allocs] == [f"10.{244 + i}.0.0/16" for i in range(4)]
    assert [a.service for a in allocs] == [f"10.{96 + i}.0.0/16" for i in range(4)]


def test_auto_skips_explicit_ranges_of_other_clusters():
    allocs, problems = allocate([req("a"), req("b", pod="10.244.0.0/16")], DOCKER)
    assert problems == []
    assert allocs[0].pod == "10.245.0.0/16"
    assert allocs[1].pod == "10.244.0.0/16"


def test_auto_never_lands_in_the_container_network():
    allocs, problems = allocate([req()], ["10.244.0.0/15"])
    assert problems == []
    assert allocs[0].pod == "10.246.0.0/16"


def test_many_clusters_all_disjoint():
    allocs, problems = allocate([req(f"c{i}") for i in range(60)], DOCKER)
    assert problems == []
    all_nets = list(nets(allocs))
    assert len(all_nets) == 120
    for a, b in itertools.combinations(all_nets, 2):
        assert not a.overlaps(b)


@pytest.mark.parametrize(
    ("family", "pod", "service"),
    [
        ("ipv6", "fd00:10:244::/56", "fd00:10:96::/112"),
        ("dual", "10.244.0.0/16,fd00:10:244::/56", "10.96.0.0/16,fd00:10:96::/112"),
    ],
)
def test_ipv6_and_dual_start_at_kinds_defaults(family, pod, service):
    allocs, problems = allocate([req(family=family)], DOCKER)
    assert problems == []
    assert (allocs[0].pod, allocs[0].service) == (pod, service)


def test_dual_stack_fleet_is_disjoint_in_both_families():
    allocs, problems = allocate([req(f"c{i}", family="dual") for i in range(5)], DOCKER)
    assert problems == []
    for a, b in itertools.combinations(list(nets(allocs)), 2):
        assert a.version != b.version or not a.overlaps(b)


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (req(pod="10.244.0.1/16"), "did you mean 10.244.0.0/16"),
        (req(pod="banana"), "not a CIDR"),
        (req(pod="fd00::/56"), "ipFamily ipv4 needs one IPv4 pod subnet"),
        (req(family="dual", pod="10.1.0.0/16"), "needs one IPv4 and one IPv6"),
        (req(service="10.0.0.0/8"), "/12 at most"),
        (req(family="ipv6", service="fd00::/96"), "/108 at most"),
        (req(pod="10.1.0.0/25"), "cannot give each of 2 node(s) a /24"),
        (req(pod="10.1.0.0/24", nodes=2), "cannot give each of 2 node(s)"),
        (req(pod="172.18.0.0/16"), "overlaps the container network"),
        (req(pod="10.96.0.0/16", service="10.96.0.0/16"), "overlaps"),
    ],
)
def test_bad_subnets_are_named(request_, fragment):
    _, problems = allocate([request_], DOCKER)
    assert problems, fragment
    assert fragment in problems[0].message
    assert problems[0].path.startswith("c.networking.")


def test_overlap_between_clusters_names_both():
    _, problems = allocate([req("a", pod="10.10.0.0/16"), req("b", pod="10.10.128.0/17")], DOCKER)
    assert len(problems) == 1
    assert problems[0].path == "b.networking.podSubnet"
    assert "a.networking.podSubnet" in problems[0].message


def test_pool_exhaustion_is_a_problem_not_a_crash():
    _allocs, problems = allocate([req(f"c{i}") for i in range(200)], DOCKER)
    assert [p.path for p in problems] == [
        "c144.networking.podSubnet",
        "c112.networking.serviceSubnet",
    ]
    assert "for 56 cluster(s): c144, c145, c146 and 53 more" in problems[0].message
    assert "no free IPv4 service range left to allocate for 88 cluster(s)" in problems[1].message


@pytest.mark.parametrize("family", ["ipv4", "dual"])
def test_one_problem_per_dry_pool_however_many_clusters(family):
    """Was one line per cluster (1,746 lines for 1,000 spokes), and quadratic."""
    _allocs, problems = allocate([req(f"c{i}", family=family) for i in range(3000)], DOCKER)
    assert len(problems) == (2 if family == "ipv4" else 4)
    assert len({p.message.split(":")[0] for p in problems}) == len(problems)


def test_a_range_shared_through_a_template_is_one_problem():
    shared = [req(f"s{i}", pod="10.50.0.0/16") for i in range(5)]
    for r in shared:
        object.__setattr__(r, "path", "spokes.template.networking")
    _allocs, problems = allocate(shared, DOCKER)
    assert {p.message for p in problems} == {
        "10.50.0.0/16 would be the pod subnet of every spoke made from it; clusters may not share one"
    }


@given(
    st.lists(st.tuples(st.integers(0, 2**16 - 1), st.integers(0, 16)), min_size=1, max_size=30),
    st.tuples(st.integers(0, 2**16 - 1), st.integers(0, 16)),
)
def test_network_index_agrees_with_comparing_every_pair(taken, probe):
    def net(address, prefix):
        return ipaddress.ip_network((address << 16, 16 + prefix), strict=False)

    index = NetworkIndex()
    nets = [net(a, p) for a, p in taken]
    for i, n in enumerate(nets):
        index.add(n, f"n{i}")
    target = net(*probe)
    overlapping = {f"n{i}" for i, n in enumerate(nets) if n.overlaps(target)}
    found = index.holder(target)
    assert (found is None) == (not overlapping)
    assert found is None or found in overlapping


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ipv4", "ipv6", "dual"]),
            st.one_of(st.just(AUTO), st.integers(0, 255).map(lambda i: f"10.{i}.0.0/16")),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_property_no_two_allocations_overlap(clusters):
    requests = [
        req(f"c{i}", family=family, pod=pod if family == "ipv4" else AUTO)
        for i, (family, pod) in enumerate(clusters)
    ]
    allocs, problems = allocate(requests, DOCKER)
    if problems:
        return  # explicit choices clashed; that is reported, not allocated around
    all_nets = list(nets(allocs))
    for a, b in itertools.combinations(all_nets, 2):
        assert a.version != b.version or not a.overlaps(b)
    for n in all_nets:
        if n.version == 4:
            assert not n.overlaps(ipaddress.ip_network("172.16.0.0/12"))
