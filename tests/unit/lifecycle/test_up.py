"""`up` over a fake provider: the order of steps, what applies where, idempotence,
failures removed and named, bounded parallelism, the hub first when asked, Ctrl-C."""

import _thread
import threading
import time

import pytest
import yaml

from kindfleet import kubeconfig as kc
from kindfleet.errors import PartialFailure, PrerequisiteError
from kindfleet.fleetspec import from_text
from kindfleet.lifecycle import ClustersFailed, UpOptions, up
from kindfleet.lifecycle.events import Event
from kindfleet.lifecycle.up import InterruptedAgain
from tests.doubles.fakeprovider import BareProvider, FakeProvider, GoodProbes, Interrupter
from tests.unit.lifecycle.conftest import FLEET


def options(tmp_path, calico_manifest, **kw):
    kw.setdefault("kubeconfig", tmp_path / "kubeconfig")
    return UpOptions(calico_manifest=calico_manifest, **kw)


def run(spec, provider, tmp_path, calico_manifest, **kw):
    events = []
    interrupter = kw.pop("interrupter", None)
    result = up(
        spec,
        provider,
        options(tmp_path, calico_manifest, **kw),
        report=events.append,
        interrupter=interrupter,
    )
    return result, events


def test_every_cluster_goes_through_its_steps_in_order(spec, tmp_path, calico_manifest):
    provider = FakeProvider()
    result, events = run(spec, provider, tmp_path, calico_manifest)
    assert result.ok and [o.action for o in result.outcomes] == ["create"] * 4
    assert provider.log[0] == ("ensure-registry",)  # before any cluster
    assert provider.steps("t-hub") == ["create", "connect", "apply", "wait"]
    assert provider.steps("t-spoke1") == ["create", "apply", "pods", "connect", "apply", "wait"]
    steps = [e.step for e in events if e.cluster == "t-spoke2" and e.phase == "done"]
    assert steps == [
        "creating",
        "installing Calico v3.32.1",
        "wiring the registry",
        "waiting for nodes Ready",
        "merging kubeconfig",
        "up",
    ]


def test_calico_gets_each_clusters_own_pod_subnet(spec, tmp_path, calico_manifest):
    provider = FakeProvider()
    run(spec, provider, tmp_path, calico_manifest)
    for spoke in spec.spokes:
        calico, configmap = provider.manifests[spoke.name]
        docs = list(yaml.safe_load_all(calico))
        node = next(d for d in docs if d and d["kind"] == "DaemonSet")
        env = {
            e["name"]: e.get("value")
            for e in node["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["CALICO_IPV4POOL_CIDR"] == spoke.networking.pod_subnet
        assert yaml.safe_load(configmap)["metadata"]["name"] == "local-registry-hosting"
    assert provider.manifests["t-hub"] == [
        provider.manifests["t-spoke1"][1]
    ]  # no Calico on the hub
    pods = [e for e in provider.log if e[0] == "pods"]
    assert {e[2:] for e in pods} == {("kube-system", "k8s-app=calico-node")}


def test_contexts_are_merged_and_the_hub_is_current(spec, tmp_path, calico_manifest):
    target = tmp_path / "kubeconfig"
    target.write_text(
        yaml.safe_dump({"contexts": [{"name": "mine", "context": {}}], "current-context": "mine"})
    )
    result, _ = run(spec, FakeProvider(), tmp_path, calico_manifest)
    config = kc.KubeconfigFile(target).read()
    names = kc.context_names(config)
    assert names[0] == "mine"  # the user's own entries stay first; ours in completion order
    assert sorted(names[1:]) == ["kind-t-hub", "kind-t-spoke1", "kind-t-spoke2", "kind-t-spoke3"]
    assert config["current-context"] == "kind-t-hub"
    assert result.kubeconfig == target
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_custom_context_name_is_what_lands_in_the_kubeconfig(tmp_path, calico_manifest):
    spec = from_text(FLEET.replace("labels: {cluster-role: hub}", "context: platform"))
    run(spec, FakeProvider(), tmp_path, calico_manifest, switch_context=False)
    config = kc.KubeconfigFile(tmp_path / "kubeconfig").read()
    assert "platform" in kc.context_names(config) and "kind-t-hub" not in kc.context_names(config)
    assert config["current-context"] == ""


def test_no_kubeconfig_file_means_none_is_touched(spec, tmp_path, calico_manifest):
    result, events = run(spec, FakeProvider(), tmp_path, calico_manifest, kubeconfig=None)
    assert result.ok and not list(tmp_path.iterdir())
    assert not [e for e in events if e.step == "merging kubeconfig"]


def test_healthy_clusters_are_kept_unhealthy_ones_repaired(spec, tmp_path, calico_manifest):
    provider = FakeProvider(existing={"t-hub": True, "t-spoke1": False})
    result, _ = run(spec, provider, tmp_path, calico_manifest)
    assert [o.action for o in result.outcomes] == ["keep", "repair", "create", "create"]
    assert provider.steps("t-hub") == ["connect", "apply"]  # registry refreshed, nothing made
    assert provider.steps("t-spoke1") == ["apply", "pods", "connect", "apply", "wait"]
    again, _ = run(spec, provider, tmp_path, calico_manifest)
    assert [o.action for o in again.outcomes] == ["keep"] * 4
    assert not again.registry_created


def test_a_broken_cluster_is_removed_and_made_anew(spec, tmp_path, calico_manifest):
    provider = FakeProvider(existing={"t-hub": True, "t-spoke1": False})
    provider.clusters["t-spoke1"]["broken"] = "node containers missing: t-spoke1-worker"
    result, events = run(spec, provider, tmp_path, calico_manifest)
    assert [o.action for o in result.outcomes] == ["keep", "recreate", "create", "create"]
    assert provider.steps("t-spoke1") == [
        "delete",
        "create",
        "apply",
        "pods",
        "connect",
        "apply",
        "wait",
    ]
    notes = [e.message for e in events if e.cluster == "t-spoke1" and e.phase == "note"]
    assert "exists but node containers missing: t-spoke1-worker: made anew" in notes
    assert "kind-t-spoke1" in kc.context_names(kc.KubeconfigFile(tmp_path / "kubeconfig").read())


def test_a_half_made_cluster_holding_its_own_host_port_is_made_anew(tmp_path, calico_manifest):
    """Found from outside: `up` killed while it created a hub with a fixed host port left
    the half-made hub holding that port; the next `up`, which was to make it anew, failed
    its preflight on the port (exit 3) and did nothing: `down` by hand was the way out."""
    fleet = from_text(
        "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: t\n"
        "hub:\n  nodes:\n    - role: control-plane\n      portMappings:\n"
        "        - {containerPort: 30080, hostPort: 18080}\n"
        "spokes: {count: 1}\n"
    )

    class PortHeld(GoodProbes):
        def port_free(self, address, port, protocol):
            return port != 18080  # held by the half-made hub's node

    provider = FakeProvider(existing={"t-hub": False}, probes=PortHeld())
    provider.clusters["t-hub"]["broken"] = "its API server was never set up"
    result, _ = run(fleet, provider, tmp_path, calico_manifest)
    assert [o.action for o in result.outcomes] == ["recreate", "create"]


def test_a_context_of_the_users_own_under_a_clusters_name_is_not_taken(
    spec, tmp_path, calico_manifest
):
    """Found from outside: the user's context `kind-t-hub` (pointing at their own `prod`
    cluster) was replaced without a word by `up`, and `down` then removed it as the
    fleet's. It is refused before anything is made."""
    target = tmp_path / "kubeconfig"
    target.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-t-hub\n"
        "clusters: [{name: prod, cluster: {server: 'https://prod:6443'}}]\n"
        "users: [{name: prod-admin, user: {token: x}}]\n"
        "contexts: [{name: kind-t-hub, context: {cluster: prod, user: prod-admin, "
        "namespace: payments}}]\n"
    )
    provider = FakeProvider()
    with pytest.raises(kc.KubeconfigError, match="has a context kind-t-hub of its own"):
        run(spec, provider, tmp_path, calico_manifest)
    assert provider.log == []  # nothing made
    kept = kc.KubeconfigFile(target).read()
    [context] = kept["contexts"]
    assert context["context"]["cluster"] == "prod"


def test_a_failed_creation_is_removed_and_named(spec, tmp_path, calico_manifest):
    provider = FakeProvider(fail={"t-spoke2": "create"})
    with pytest.raises(PartialFailure) as caught:
        run(spec, provider, tmp_path, calico_manifest)
    error = caught.value
    assert error.exit_code == 4
    assert list(error.failed) == ["t-spoke2"]
    assert error.message.startswith("1 of 4 clusters failed to come up: t-spoke2")
    assert "kind could not create t-spoke2: boom" in error.message
    assert "t-spoke2" not in provider.clusters  # nothing half-made left
    assert ("delete", "t-spoke2") in provider.log
    outcome = next(o for o in error.result.outcomes if o.name == "t-spoke2")
    assert outcome.removed
    contexts = kc.context_names(kc.KubeconfigFile(tmp_path / "kubeconfig").read())
    assert "kind-t-spoke2" not in contexts and "kind-t-spoke1" in contexts


def test_a_failure_after_creation_removes_the_cluster_too(spec, tmp_path, calico_manifest):
    provider = FakeProvider(fail={"t-spoke1": "wait"})
    with pytest.raises(PartialFailure) as caught:
        run(spec, provider, tmp_path, calico_manifest)
    assert "timed out after 300s waiting for nodes Ready" in caught.value.failed["t-spoke1"]
    assert "t-spoke1" not in provider.clusters


def test_retain_keeps_the_nodes_and_says_how_to_remove_them(spec, tmp_path, calico_manifest):
    provider = FakeProvider(fail={"t-spoke1": "create"})
    with pytest.raises(PartialFailure) as caught:
        run(spec, provider, tmp_path, calico_manifest, retain=True)
    assert "t-spoke1" in provider.clusters
    assert "kindfleet down --cluster t-spoke1" in caught.value.failed["t-spoke1"]


def test_every_cluster_failing_is_exit_1(spec, tmp_path, calico_manifest):
    provider = FakeProvider(fail={c.name: "create" for c in spec.clusters})
    with pytest.raises(ClustersFailed) as caught:
        run(spec, provider, tmp_path, calico_manifest)
    assert caught.value.exit_code == 1
    assert sorted(caught.value.failed) == sorted(c.name for c in spec.clusters)


def test_a_repair_that_fails_leaves_the_cluster_alone(spec, tmp_path, calico_manifest):
    provider = FakeProvider(existing={"t-spoke1": False}, fail={"t-spoke1": "wait"})
    with pytest.raises(PartialFailure) as caught:
        run(spec, provider, tmp_path, calico_manifest)
    assert "t-spoke1" in provider.clusters  # not ours to delete: it was there before
    assert (
        "`kindfleet down --cluster t-spoke1` and `kindfleet up`" in caught.value.failed["t-spoke1"]
    )
    assert ("delete", "t-spoke1") not in provider.log


def test_parallelism_is_bounded(spec, tmp_path, calico_manifest):
    def slow(name):
        time.sleep(0.15)

    provider = FakeProvider(on_create=slow)
    run(spec, provider, tmp_path, calico_manifest, parallel=2)
    assert provider.max_active == 2
    wide = FakeProvider(on_create=slow)
    run(spec, wide, tmp_path, calico_manifest, parallel=8)
    assert wide.max_active == 4


def test_only_the_clusters_asked_for(spec, tmp_path, calico_manifest):
    provider = FakeProvider()
    result, _ = run(spec, provider, tmp_path, calico_manifest, clusters=("t-spoke3",))
    assert [o.name for o in result.outcomes] == ["t-spoke3"]
    assert set(provider.clusters) == {"t-spoke3"}
    assert kc.KubeconfigFile(tmp_path / "kubeconfig").read()["current-context"] == ""


def test_cni_none_is_not_waited_for(tmp_path, calico_manifest):
    spec = from_text(FLEET.replace("cni: calico", "cni: none"))
    provider = FakeProvider()
    result, events = run(spec, provider, tmp_path, calico_manifest)
    assert result.ok
    assert ("wait", "t-spoke1") not in provider.log
    notes = [
        e.message for e in events if e.cluster == "t-spoke1" and e.step == "waiting for nodes Ready"
    ]
    assert notes[-1] == "not waited for: cni none (nodes turn Ready once you install a CNI)"


def test_preflight_failures_stop_everything_before_anything_is_made(
    spec, tmp_path, calico_manifest
):
    class NoKind:
        def docker_info(self):
            return {"ServerVersion": "28", "MemTotal": 64 * 2**30}

        def kind_version(self):
            from kindfleet.exec import CommandNotFound, cmd

            raise CommandNotFound(cmd("kind"))

        def kubectl_version(self):
            return "v1.35.0"

        def sysctl(self, name):
            return 10**6

        def engine_is_local(self, info):
            return True

        def port_free(self, *args):
            return True

        def network_subnets(self, name):
            return None

    provider = FakeProvider(probes=NoKind())
    events = []
    with pytest.raises(PrerequisiteError, match="kind not found on PATH"):
        up(spec, provider, options(tmp_path, calico_manifest), report=events.append)
    assert provider.log == []
    assert [(e.step, e.phase) for e in events][-1] == ("preflight", "fail")


def test_without_kind_the_preflight_still_reports_everything(spec, tmp_path, calico_manifest):
    from kindfleet.exec import CommandNotFound, cmd

    class NoTools:
        def docker_info(self):
            raise CommandNotFound(cmd("docker"))

        def kind_version(self):
            raise CommandNotFound(cmd("kind"))

        def kubectl_version(self):
            return "v1.35.0"

        def sysctl(self, name):
            return 10**6

        def engine_is_local(self, info):
            return True

        def port_free(self, *args):
            return True

        def network_subnets(self, name):
            return None

    provider = FakeProvider(probes=NoTools())

    def cannot_list(fleet):
        raise CommandNotFound(cmd("kind", "get", "clusters"))

    provider.list_clusters = cannot_list  # type: ignore[method-assign]
    with pytest.raises(PrerequisiteError) as caught:
        up(spec, provider, options(tmp_path, calico_manifest))
    assert caught.value.message.startswith("preflight: 2 checks failed")
    assert "docker not found on PATH" in caught.value.message
    assert "kind not found on PATH" in caught.value.message


def test_hub_first_when_the_provider_needs_it(spec, tmp_path, calico_manifest):
    provider = BareProvider()
    result, events = run(spec, provider, tmp_path, calico_manifest)
    assert result.ok and provider.order[0] == "t-hub"
    assert [o.action for o in result.outcomes] == ["create"] * 4
    assert not (tmp_path / "kubeconfig").exists()  # no kubeconfig for processes
    assert not [e for e in events if "registry" in e.step or "Calico" in e.step]


def test_spokes_do_not_start_when_the_hub_failed(spec, tmp_path, calico_manifest):
    provider = BareProvider(fail={"t-hub"})
    with pytest.raises(ClustersFailed) as caught:
        run(spec, provider, tmp_path, calico_manifest)
    assert provider.order == ["t-hub"]
    assert caught.value.failed["t-spoke1"] == "not started: the hub t-hub failed"


def test_provider_existing_only_checks(spec, tmp_path, calico_manifest):
    class Existing(FakeProvider):
        name = "existing"  # type: ignore[assignment]
        owns_clusters = False
        manages_kubeconfig = False

    provider = Existing()
    result, _ = run(spec, provider, tmp_path, calico_manifest)
    assert [o.action for o in result.outcomes] == ["check"] * 4
    assert [e[0] for e in provider.log] == ["create"] * 4  # the check, nothing else
    assert not (tmp_path / "kubeconfig").exists()


# --- Ctrl-C ----------------------------------------------------------------------------


def interrupted_up(spec, provider, tmp_path, calico_manifest, interrupter, *, watch=None):
    """`up` to its KeyboardInterrupt; every event it reported (each also to `watch`)."""
    events = []

    def report(event: Event) -> None:
        events.append(event)
        if watch is not None:
            watch(event)

    with pytest.raises(KeyboardInterrupt):
        up(
            spec,
            provider,
            options(tmp_path, calico_manifest),
            report=report,
            interrupter=interrupter,
        )
    return events


def test_ctrl_c_removes_what_was_half_made_and_keeps_what_is_up(spec, tmp_path, calico_manifest):
    interrupter = Interrupter()
    hub_up = threading.Event()

    def on_create(name):
        if name == "t-hub":
            return
        if name == "t-spoke2":
            hub_up.wait(10)
            _thread.interrupt_main()
        interrupter.block()

    provider = FakeProvider(on_create=on_create)

    def report(event: Event):
        if event.cluster == "t-hub" and event.final:
            hub_up.set()

    interrupted_up(spec, provider, tmp_path, calico_manifest, interrupter, watch=report)
    assert interrupter.calls[:1] == ["interrupt"] and "resume" in interrupter.calls
    assert set(provider.clusters) == {"t-hub"}
    created = {e[1] for e in provider.log if e[0] == "create"}
    deleted = {e[1] for e in provider.log if e[0] == "delete"}
    assert {"t-hub", "t-spoke2"} <= created  # a spoke not yet started when Ctrl-C came is skipped
    assert deleted == created - {"t-hub"}
    assert provider.registry == "running"  # the hub still uses it
    contexts = kc.context_names(kc.KubeconfigFile(tmp_path / "kubeconfig").read())
    assert contexts == ["kind-t-hub"]


def test_ctrl_c_removes_a_cluster_whose_creation_ends_after_it(spec, tmp_path, calico_manifest):
    """A creation that cannot be cut short (the local provider's waits for its processes)
    and is the cluster's last step, completed after Ctrl-C: not up before the interrupt,
    so it goes as one cut short would; the hub, up before it, stays."""

    interrupter = Interrupter()

    class Slow(BareProvider):
        def create(self, fleet, cluster, options):
            if cluster.name == "t-spoke1":
                _thread.interrupt_main()
                assert interrupter.stop.wait(10)  # the main thread has taken the interrupt
            super().create(fleet, cluster, options)

    provider = Slow()
    events = interrupted_up(spec, provider, tmp_path, calico_manifest, interrupter)
    assert provider.running == ["t-hub"]
    spoke1 = [(e.step, e.phase, e.message) for e in events if e.cluster == "t-spoke1"]
    assert ("done after the interrupt", "fail", "interrupted") in spoke1, spoke1
    assert ("removing", "done", "") in spoke1


def test_ctrl_c_while_a_stopped_hub_starts_again_keeps_its_data(spec, tmp_path, calico_manifest):
    """A local hub whose process had died is started again by `up`: a Ctrl-C then deleted
    it as half-made, and with it the fleet's store and every spoke."""
    interrupter = Interrupter()

    class Stopped(BareProvider):
        def has_data(self, fleet, cluster):
            return True  # every cluster's data is there; none runs

        def create(self, fleet, cluster, options):
            if cluster.role == "hub":
                _thread.interrupt_main()
                assert interrupter.stop.wait(10)
            super().create(fleet, cluster, options)

        def delete(self, fleet, cluster):
            raise AssertionError(f"{cluster} was deleted: its data with it")

    provider = Stopped()
    interrupted_up(spec, provider, tmp_path, calico_manifest, interrupter)
    assert provider.running == ["t-hub"]  # started again, kept; the spokes not begun


def test_the_clean_up_goes_on_when_its_output_is_gone(spec, tmp_path, calico_manifest):
    """A closed terminal (SIGHUP) or pipe makes every progress line fail: the lines go,
    the clean-up of what was half made does not."""
    interrupter = Interrupter()
    gone = threading.Event()

    def on_create(name):
        if name == "t-hub":
            return
        if name == "t-spoke1":
            _thread.interrupt_main()
        interrupter.block()

    def report(event: Event) -> None:
        if gone.is_set():
            raise OSError(5, "Input/output error")
        if event.cluster == "t-spoke1" and event.step == "creating":
            gone.set()  # the terminal closes as the spokes start

    provider = FakeProvider(on_create=on_create)
    interrupted_up(spec, provider, tmp_path, calico_manifest, interrupter, watch=report)
    assert set(provider.clusters) <= {"t-hub"}


def test_ctrl_c_before_any_cluster_is_up_removes_the_new_registry(spec, tmp_path, calico_manifest):
    interrupter = Interrupter()
    started = []

    def on_create(name):
        started.append(name)
        if len(started) == 4:
            _thread.interrupt_main()
        interrupter.block()

    provider = FakeProvider(on_create=on_create)
    events = interrupted_up(spec, provider, tmp_path, calico_manifest, interrupter)
    assert provider.clusters == {}
    assert provider.registry is None
    assert ("delete-registry",) in provider.log
    assert any(e.message == "removed (interrupted)" for e in events)


def test_a_second_ctrl_c_during_the_clean_up_names_what_is_left_half_made(
    spec, tmp_path, calico_manifest
):
    """Found from outside: after a second Ctrl-C the summary said the half-made clusters
    were removed, under the warning that named one left running."""
    interrupter = Interrupter()

    def on_create(name):
        if name == "t-spoke1":
            _thread.interrupt_main()
        interrupter.block()

    class DeleteInterrupted(FakeProvider):
        def delete(self, fleet, cluster):
            raise KeyboardInterrupt  # Ctrl-C again, while the first one's clean-up deletes

    provider = DeleteInterrupted(on_create=on_create)
    with pytest.raises(InterruptedAgain) as caught:
        up(spec, provider, options(tmp_path, calico_manifest), interrupter=interrupter)
    assert caught.value.left and set(caught.value.left) <= set(provider.clusters)


def test_every_action_up_can_take_has_its_words():
    """A cluster's line ends with its action's word and the summary counts it by another:
    an action added to the pipelines without them would print its bare name."""
    from kindfleet.lifecycle.results import WORDS
    from kindfleet.lifecycle.steps import PIPELINES

    assert set(PIPELINES) == set(WORDS)
