"""The deploy orchestration over a fake provider: what happens in which order, what a dry
run leaves alone, how failures and the wait for spokes are reported."""

from __future__ import annotations

import json

import pytest
import yaml

from kindfleet.deploy import DeployOptions, DeployPartialFailure, deploy
from kindfleet.errors import KindfleetError, PrerequisiteError, UsageError
from kindfleet.lifecycle.events import plain_line
from kindfleet.providers.base import ClusterStatus
from tests.doubles.deployfakes import PUSHED_DIGEST, Clock, DeployProvider, Hub, Runner, fleet
from tests.doubles.fakeprovider import BareProvider

SMOKE = "kindfleet-test/smoke:1"
SMOKE_ID = "sha256:" + "a" * 64


def run(spec, provider=None, runner=None, hub=None, tmp_path=None, **options):
    provider = provider or DeployProvider(spec)
    runner = runner or Runner(
        api_servers={"kind-t-cpu": ["172.18.0.4"], "kind-t-gpu": ["172.18.0.5"]},
        local_images={SMOKE: f"{SMOKE_ID} 2000000"},
        journal=getattr(provider, "log", None),
    )
    events = []
    clock = Clock()
    result = deploy(
        spec,
        provider,
        DeployOptions(**options),
        runner=runner,
        report=events.append,
        state_root=tmp_path,
        hub_client=hub or Hub({"t-cpu": 1, "t-gpu": 3}),
        source_tree=lambda: tmp_path,
        clock=clock,
        sleep=clock.sleep,
    )
    return result, events, provider, runner


def lines(events):
    return [line for e in events if (line := plain_line(e))]


def test_steps_run_in_order_hub_before_spokes_gpus_before_orchestrators(tmp_path):
    spec = fleet()
    result, events, provider, runner = run(spec, tmp_path=tmp_path, image=SMOKE)
    fleet_steps = [e.step for e in events if not e.cluster and e.phase == "done"]
    assert fleet_steps == [
        "checking clusters",
        f"image {SMOKE}",
        "pushing the image to the registry",
        "tokens",
        "deploy facts",
        "simulated GPUs",
        "rendering and validating",
        "hub access from this machine",
        "join tokens",
        "spokes Ready in the hub",
    ]
    # the hub is applied and rolled out before any spoke is applied; GPUs before any apply
    log = provider.log
    applies = [e for e in log if e[0] in ("apply", "rollout")]
    assert applies[:2] == [("apply", "t-hub"), ("rollout", "t-hub", "platform-management", "hub")]
    assert set(applies[2:]) == {
        ("apply", "t-cpu"), ("apply", "t-gpu"),
        ("rollout", "t-cpu", "platform-control", "orchestrator"),
        ("rollout", "t-gpu", "platform-control", "orchestrator"),
    }  # fmt: skip
    patch = next(i for i, c in enumerate(runner.calls) if "patch" in c.argv)
    assert runner.calls[patch].argv[runner.calls[patch].argv.index("node") + 1] == "t-gpu-worker"
    order = [e.step for e in events]
    assert order.index("simulated GPUs") < order.index("applying 7 objects")
    # one line per step or per cluster, `up`'s style
    text = "\n".join(lines(events))
    assert " ✓ t-hub: deployed" in text and " ✓ t-gpu: Ready in the hub" in text
    assert result.spokes_ready == ("t-cpu", "t-gpu")
    assert result.access_url == "http://127.0.0.1:30555"
    assert result.hub_url == "http://172.18.0.2:30080"  # the node that publishes the NodePort


def test_spokes_ready_are_listed_sorted_whatever_order_they_turned_ready(tmp_path):
    result, events, _, _ = run(
        fleet(), tmp_path=tmp_path, image=SMOKE, hub=Hub({"t-cpu": 4, "t-gpu": 2})
    )
    turned = [e.cluster for e in events if e.step == "Ready in the hub"]
    assert turned == ["t-gpu", "t-cpu"]
    assert result.spokes_ready == ("t-cpu", "t-gpu")


def test_registry_fleet_pushes_and_manifests_use_the_registry_reference(tmp_path):
    spec = fleet()
    result, _, provider, runner = run(spec, tmp_path=tmp_path, image=SMOKE)
    pushed = f"localhost:5099/{SMOKE}"
    assert ("docker", "tag", SMOKE, pushed) in runner.argvs("docker")
    assert ("docker", "push", pushed) in runner.argvs("docker")
    assert not [e for e in provider.log if e[0] == "load"]
    hub = [d for d in yaml.safe_load_all(provider.manifests["t-hub"][0]) if d]
    deployment = next(d for d in hub if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    pinned = f"{pushed}@{PUSHED_DIGEST}"  # by what the registry stored, not by the tag
    assert (container["image"], container["imagePullPolicy"]) == (pinned, "IfNotPresent")
    spoke = [d for d in yaml.safe_load_all(provider.manifests["t-cpu"][0]) if d]
    orchestrator = next(d for d in spoke if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    args = orchestrator["containers"][0]["args"]
    assert args[args.index("--job-image") + 1] == pinned  # the Jobs it creates too
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kindfleet.dev/image-id": SMOKE_ID}
    assert (result.image, result.image_pull_policy) == (pinned, "IfNotPresent")


def test_without_a_registry_the_image_is_loaded_into_every_cluster(tmp_path):
    spec = fleet(registry=False)
    result, _, provider, runner = run(spec, tmp_path=tmp_path, image=SMOKE)
    loads = sorted(e for e in provider.log if e[0] == "load")
    tagged = f"{SMOKE}-{'a' * 12}"  # a tag holding the image's ID: a rebuild is a new name
    assert loads == [("load", c, tagged) for c in ("t-cpu", "t-gpu", "t-hub")]
    assert ("docker", "tag", SMOKE, tagged) in runner.argvs("docker")
    assert not [a for a in runner.argvs("docker") if a[1] == "push"]
    assert (result.image, result.image_pull_policy) == (tagged, "IfNotPresent")


def test_default_builds_from_the_source_tree_with_build_args(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    spec = fleet()
    result, _, _, runner = run(
        spec, tmp_path=tmp_path, build_args={"PYTHON_IMAGE": "mirror/python:3.11"}
    )
    build = next(a for a in runner.argvs("docker") if a[1] == "build")
    assert build == (
        "docker", "build", "--force-rm", "--tag", "kindfleet/platform:0.1.0",
        "--build-arg", "PYTHON_IMAGE=mirror/python:3.11",
        "--file", str(tmp_path / "Dockerfile"), str(tmp_path),
    )  # fmt: skip
    assert result.image == f"localhost:5099/kindfleet/platform:0.1.0@{PUSHED_DIGEST}"


def test_an_image_that_is_not_local_is_pulled_by_the_nodes(tmp_path):
    spec = fleet()
    result, _, _, runner = run(spec, tmp_path=tmp_path, image="ghcr.io/o/p:1")
    assert (result.image, result.image_pull_policy) == ("ghcr.io/o/p:1", "IfNotPresent")
    assert not [a for a in runner.argvs("docker") if a[1] in ("push", "tag")]
    assert any("not on this machine" in n for n in result.notes)


def docs_of(provider, cluster):
    return [d for d in yaml.safe_load_all(provider.manifests[cluster][-1]) if d]


def secret_of(provider, cluster):
    return next(d for d in docs_of(provider, cluster) if d["kind"] == "Secret")["stringData"]


def test_each_spoke_gets_a_join_token_of_its_own_the_hub_only_the_client_token(tmp_path):
    spec = fleet()
    hub = Hub({"t-cpu": 1, "t-gpu": 1})
    _, _, provider, _ = run(spec, tmp_path=tmp_path, image=SMOKE, hub=hub)
    client = (tmp_path / "t" / "tokens" / "client.token").read_text()
    assert (tmp_path / "t" / "tokens" / "client.token").stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "t" / "tokens" / "bootstrap.token").exists()
    assert secret_of(provider, "t-hub") == {"client": client}  # no fleet-wide token
    hub_args = next(d for d in docs_of(provider, "t-hub") if d["kind"] == "Deployment")
    hub_args = hub_args["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [a for a in hub_args if "bootstrap" in a or "fleet-token" in a]
    assert hub.made_with == ("http://127.0.0.1:30555", client)
    assert sorted(t.spoke for t in hub.minted) == ["t-cpu", "t-gpu"]
    minted = {t.spoke: t.token for t in hub.minted}
    for spoke in ("t-cpu", "t-gpu"):
        assert secret_of(provider, spoke) == {"token": minted[spoke]}
    assert minted["t-cpu"] != minted["t-gpu"]


def test_join_tokens_are_minted_once_the_hub_answers_after_its_apply_before_the_spokes(
    tmp_path,
):
    spec = fleet()
    provider = DeployProvider(spec)
    hub = Hub({"t-cpu": 1, "t-gpu": 1}, answers_from=4, journal=provider.log)  # a slow start
    _, events, _, _ = run(spec, provider=provider, tmp_path=tmp_path, image=SMOKE, hub=hub)
    order = [e[:2] for e in provider.log if e[0] in ("apply", "mint")]
    assert order[0] == ("apply", "t-hub")
    assert set(order[1:3]) == {("mint", "t-cpu"), ("mint", "t-gpu")}
    assert set(order[3:]) == {("apply", "t-cpu"), ("apply", "t-gpu")}
    done = next(e for e in events if e.step == "join tokens" and e.phase == "done")
    assert "2 join tokens minted by the hub (one per spoke, single use" in done.message


def test_a_redeploy_puts_a_fresh_join_token_in_every_spokes_secret(tmp_path):
    spec = fleet()
    hub = Hub({"t-cpu": 1, "t-gpu": 1})
    run(spec, tmp_path=tmp_path, image=SMOKE, hub=hub)
    _, _, provider, _ = run(spec, tmp_path=tmp_path, image=SMOKE, hub=hub)
    assert len(hub.minted) == 4
    second = {t.spoke: t.token for t in hub.minted[2:]}
    assert {s: secret_of(provider, s)["token"] for s in ("t-cpu", "t-gpu")} == second


def test_a_hub_that_never_answers_gets_no_spoke_applied(tmp_path):
    spec = fleet()
    provider = DeployProvider(spec)
    hub = Hub({}, unreachable=True)
    with pytest.raises(KindfleetError) as caught:
        run(spec, provider=provider, tmp_path=tmp_path, image=SMOKE, hub=hub, wait_seconds=5)
    assert "so no spoke could get a join token" in caught.value.message
    assert [e[1] for e in provider.log if e[0] == "apply"] == ["t-hub"]
    assert hub.closed and not hub.minted


def test_a_refused_client_token_stops_at_once(tmp_path):
    class Refusing(Hub):
        def spokes(self):
            from kindfleet.platform.client import HubAuthError

            self.polls += 1
            raise HubAuthError("the hub refused the token (401): wrong token", status=401)

    hub = Refusing({})
    with pytest.raises(KindfleetError, match="refused the token"):
        run(fleet(), tmp_path=tmp_path, image=SMOKE, hub=hub, wait_seconds=300)
    assert hub.polls == 1


def test_egress_narrowed_to_addresses_and_access_is_saved(tmp_path):
    spec = fleet()
    _, _, provider, _ = run(spec, tmp_path=tmp_path, image=SMOKE)
    for spoke in ("t-cpu", "t-gpu"):
        docs = docs_of(provider, spoke)
        policy = next(d for d in docs if d["metadata"]["name"] == "orchestrator-egress")
        cidrs = [
            p["ipBlock"]["cidr"]
            for r in policy["spec"]["egress"]
            for p in r.get("to", [])
            if "ipBlock" in p
        ]
        assert "172.18.0.2/32" in cidrs  # the hub node
        assert {"t-cpu": "172.18.0.4/32", "t-gpu": "172.18.0.5/32"}[spoke] in cidrs
    access = json.loads((tmp_path / "t" / "access.json").read_text())
    assert access["hub"] == "http://127.0.0.1:30555"
    assert (access["hub_node"], access["hub_host"]) == ("t-hub-control-plane", "172.18.0.2")


def test_dry_run_reads_renders_and_validates_and_changes_nothing(tmp_path):
    spec = fleet()
    hub = Hub({})
    result, events, provider, runner = run(spec, tmp_path=tmp_path, dry_run=True, hub=hub)
    assert not [e for e in provider.log if e[0] in ("apply", "pods", "load")]
    assert hub.made_with is None and not hub.minted  # no hub asked, no token minted
    secret = next(o for o in result.manifests["t-cpu"] if o["kind"] == "Secret")
    assert secret["stringData"]["token"].startswith("<redacted")
    assert not [a for a in runner.argvs("docker") if a[1] in ("build", "push", "tag")]
    patches = [c.argv for c in runner.calls if "patch" in c.argv]
    assert patches and all("--dry-run=server" in p for p in patches)
    assert not (tmp_path / "t" / "access.json").exists()
    assert result.dry_run and result.access_url is None
    assert [len(o) for o in result.manifests.values()] == [7, 12, 12]
    text = "\n".join(lines(events))
    assert " ✓ t-hub: would apply 7 objects" in text and " ✓ t-gpu: would apply 12 objects" in text
    plan = next(e.message for e in events if e.step == "image" and e.phase == "done")
    assert plan == (
        f"would build kindfleet/platform:0.1.0 from {tmp_path}, push it as "
        "localhost:5099/kindfleet/platform:0.1.0"
    )


def test_no_wait_neither_waits_for_pods_nor_for_spokes(tmp_path):
    hub = Hub({"t-cpu": 1, "t-gpu": 1})
    _, _, provider, _ = run(fleet(), tmp_path=tmp_path, image=SMOKE, hub=hub, wait=False)
    assert not [e for e in provider.log if e[0] == "pods"]
    assert hub.polls == 1  # only to know the hub answers before it mints the join tokens


def test_provider_local_is_refused_with_what_to_run_instead(tmp_path):
    with pytest.raises(UsageError) as caught:
        run(fleet(), provider=BareProvider(), tmp_path=tmp_path)
    assert "provider local already runs the platform" in caught.value.message
    assert "kindfleet up" in caught.value.hint


def test_clusters_that_are_not_ready_are_named_with_the_fix(tmp_path):
    spec = fleet()
    provider = DeployProvider(spec)
    provider.clusters["t-gpu"]["ready"] = False
    del provider.clusters["t-cpu"]
    with pytest.raises(PrerequisiteError) as caught:
        run(spec, provider=provider, tmp_path=tmp_path, image=SMOKE)
    assert "t-cpu (not created)" in caught.value.message
    assert "t-gpu (not ready" in caught.value.message
    assert "kindfleet up" in caught.value.hint
    assert not [e for e in provider.log if e[0] == "apply"]


def test_a_failed_spoke_is_named_the_others_are_deployed(tmp_path):
    spec = fleet()
    provider = DeployProvider(spec, fail={"t-gpu": "apply"})
    with pytest.raises(DeployPartialFailure) as caught:
        run(spec, provider=provider, tmp_path=tmp_path, image=SMOKE)
    assert caught.value.exit_code == 4
    assert list(caught.value.failed) == ["t-gpu"]
    result = caught.value.result
    assert result.spokes_ready == ("t-cpu",)  # the one that was deployed registered
    assert result.access_url == "http://127.0.0.1:30555"


def test_a_failed_hub_stops_the_deploy(tmp_path):
    spec = fleet()
    provider = DeployProvider(spec, fail={"t-hub": "apply"})
    with pytest.raises(KindfleetError) as caught:
        run(spec, provider=provider, tmp_path=tmp_path, image=SMOKE)
    assert "the hub t-hub could not be deployed: apply failed" in caught.value.message
    assert not [e for e in provider.log if e[0] == "apply" and e[1] != "t-hub"]


def test_spokes_that_never_turn_ready_time_out_with_where_to_look(tmp_path):
    hub = Hub({"t-cpu": 1, "t-gpu": 10_000})
    with pytest.raises(KindfleetError) as caught:
        run(fleet(), tmp_path=tmp_path, image=SMOKE, hub=hub, wait_seconds=20)
    assert "not Ready in the hub after 20s: t-gpu (NotReady)" in caught.value.message
    assert (
        "kubectl --context kind-t-gpu -n platform-control logs deploy/orchestrator"
        in caught.value.hint
    )
    assert hub.closed


def test_a_hub_this_machine_cannot_reach_says_how_to_publish_it(tmp_path):
    hub = Hub({}, unreachable=True)
    with pytest.raises(KindfleetError) as caught:
        run(fleet(), tmp_path=tmp_path, image=SMOKE, hub=hub, wait_seconds=5)
    assert "did not answer from this machine" in caught.value.message
    assert "containerPort: 30080" in caught.value.hint
    assert hub.made_with is not None and hub.made_with[0] == "http://127.0.0.1:30555"


def test_api_servers_that_cannot_be_read_fall_back_to_the_container_network(tmp_path):
    spec = fleet()
    runner = Runner(local_images={SMOKE: f"{SMOKE_ID} 1"}, fail="endpointslices")
    result, _, provider, _ = run(spec, runner=runner, tmp_path=tmp_path, image=SMOKE)
    assert any("API server addresses unknown" in n for n in result.notes)
    docs = [d for d in yaml.safe_load_all(provider.manifests["t-cpu"][0]) if d]
    policy = next(d for d in docs if d["metadata"]["name"] == "orchestrator-egress")
    cidrs = [
        p["ipBlock"]["cidr"]
        for r in policy["spec"]["egress"]
        for p in r.get("to", [])
        if "ipBlock" in p
    ]
    assert "172.16.0.0/12" in cidrs


def test_a_stopped_registry_is_a_prerequisite(tmp_path):
    spec = fleet()
    provider = DeployProvider(spec)
    provider.registry = "stopped"
    with pytest.raises(PrerequisiteError) as caught:
        run(spec, provider=provider, tmp_path=tmp_path, image=SMOKE)
    assert "registry t-registry is not running" in caught.value.message


def test_status_of_existing_clusters_needs_only_reachability(tmp_path):
    spec = fleet(provider="existing")

    class Existing(DeployProvider):
        name = "existing"
        owns_clusters = False

        def status(self, fleet, cluster):
            base = super().status(fleet, cluster)
            return ClusterStatus(**{**base.__dict__, "ready": False})

    provider = Existing(spec)
    result, _, _, runner = run(
        spec, provider=provider, tmp_path=tmp_path, image="r.example.com/k/p:1",
        hub_url="https://hub.example.com", wait=False,
    )  # fmt: skip
    assert not [c for c in runner.calls if "patch" in c.argv]  # no simulated GPUs
    assert not [e for e in provider.log if e[0] == "load"]
    assert result.access_url == "https://hub.example.com"
    assert any("DNS name" in n and "port 443" in n for n in result.notes)
