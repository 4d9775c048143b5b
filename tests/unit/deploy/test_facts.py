"""Deploy facts from what the clusters report, and how an explicit hub URL shapes the
orchestrators' egress policy."""

from __future__ import annotations

import pytest

from kindfleet.deploy import facts as ft
from kindfleet.deploy.manifests import render_manifests
from kindfleet.deploy.manifests.objects import DeployFacts, hub_egress, hub_url
from kindfleet.errors import UsageError
from kindfleet.fleetspec import from_path, from_text
from kindfleet.providers.base import NodeInfo
from tests.conftest import EXAMPLES
from tests.doubles.deployfakes import fleet
from tests.unit.render.netpol_eval import Peer, egress_allowed

ORCHESTRATOR = ("platform-control", {"app": "orchestrator"})


def _spec(hub_nodes: str):
    return from_text(
        f"apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: f\nhub: {{nodes: {hub_nodes}}}\nspokes: 1\n"
    )


def test_the_hub_is_reached_through_the_node_that_publishes_the_nodeport():
    spec = fleet()
    assert ft.hub_node(spec.hub).name == "t-hub-control-plane"
    assert ft.access_url(spec.hub, "172.18.0.2") == "http://127.0.0.1:30555"


def test_the_articles_hub_is_reached_on_its_published_port():
    article = from_path(EXAMPLES / "article.yaml")
    assert ft.hub_node(article.hub).name == "platform-hub-control-plane"
    assert ft.access_url(article.hub, "172.18.0.2") == "http://127.0.0.1:8080"


def test_else_a_management_node_else_a_worker():
    managed = _spec(
        "[{role: control-plane}, {role: worker}, {role: worker, labels: {plane: management}}]"
    )
    assert ft.hub_node(managed.hub).name == "f-hub-worker2"
    plain = _spec("[{role: control-plane}, {role: worker}]")
    assert ft.hub_node(plain.hub).name == "f-hub-worker"
    alone = _spec("[{role: control-plane}]")
    assert ft.hub_node(alone.hub).name == "f-hub-control-plane"
    assert ft.access_url(alone.hub, "172.18.0.9") == "http://172.18.0.9:30080"
    assert ft.access_url(alone.hub, None) is None


def test_a_published_port_on_a_chosen_address():
    spec = _spec(
        "[{role: control-plane, portMappings: [{containerPort: 30080, hostPort: 8080, listenAddress: 10.1.2.3}]}]"
    )
    assert ft.access_url(spec.hub, None) == "http://10.1.2.3:8080"


def test_hub_host_is_the_chosen_nodes_address():
    spec = fleet()
    nodes = [NodeInfo("t-hub-worker", "worker", address="172.18.0.3"),
             NodeInfo("t-hub-control-plane", "control-plane", address="172.18.0.2")]  # fmt: skip
    assert ft.hub_host(spec.hub, nodes) == "172.18.0.2"
    assert ft.hub_host(spec.hub, nodes[:1]) == "172.18.0.3"  # any node serves a NodePort
    assert ft.hub_host(spec.hub, [NodeInfo("t-hub-worker", "worker")]) is None


@pytest.mark.parametrize("url", ["hub.example.com", "ftp://hub", "http://", "https://a b"])
def test_a_hub_url_must_be_http(url):
    with pytest.raises(UsageError) as caught:
        ft.check_hub_url(url)
    assert "is not an http(s) URL" in caught.value.message


def test_explicit_hub_urls():
    spec = fleet()
    assert ft.check_hub_url("https://hub.example.com/") == "https://hub.example.com"
    facts = DeployFacts(hub_host="172.18.0.2", hub_url="https://hub.example.com")
    assert hub_url(spec, facts) == "https://hub.example.com"  # an explicit URL wins
    assert hub_egress(spec, facts) == (["0.0.0.0/0", "::/0"], 443)
    assert hub_egress(spec, DeployFacts(hub_url="http://10.0.0.7:8080/")) == (["10.0.0.7/32"], 8080)
    assert hub_egress(spec, DeployFacts(hub_url="http://[fd00::7]")) == (["fd00::7/128"], 80)
    assert hub_egress(spec, DeployFacts(hub_host="172.18.0.2")) == (["172.18.0.2/32"], 30080)
    assert ft.egress_note("https://hub.example.com").startswith(
        "the hub URL's host hub.example.com is a DNS name"
    )
    assert ft.egress_note("http://10.0.0.7:8080") is None


def _policies(facts):
    return [o for o in render_manifests(fleet(), facts)["t-cpu"] if o["kind"] == "NetworkPolicy"]


def test_a_dns_hub_url_opens_its_port_to_any_address_and_nothing_else():
    policies = _policies(DeployFacts(hub_url="https://hub.example.com"))
    assert egress_allowed(policies, *ORCHESTRATOR, Peer("52.1.2.3", 443))
    assert not egress_allowed(policies, *ORCHESTRATOR, Peer("52.1.2.3", 80))
    assert not egress_allowed(policies, *ORCHESTRATOR, Peer("52.1.2.3", 30080))
    workloads = ("platform-workloads", {"job-name": "x"})
    assert not egress_allowed(policies, *workloads, Peer("52.1.2.3", 443))


def test_an_ip_hub_url_opens_exactly_that_address_and_port():
    policies = _policies(DeployFacts(hub_url="http://10.0.0.7:8080"))
    assert egress_allowed(policies, *ORCHESTRATOR, Peer("10.0.0.7", 8080))
    assert not egress_allowed(policies, *ORCHESTRATOR, Peer("10.0.0.8", 8080))
    assert not egress_allowed(policies, *ORCHESTRATOR, Peer("10.0.0.7", 30080))
