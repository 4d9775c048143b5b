"""A hub that moved after deploy (a Docker restart gave its node another address): seen
by comparing what deploy recorded with the node's address now, and put right by
`rewire`, which applies only the spokes, with the recorded image, building nothing."""

from __future__ import annotations

import yaml

from kindfleet.deploy import hub_moved, rewire
from kindfleet.deploy.state import load_deployed
from kindfleet.errors import UsageError
from tests.doubles.deployfakes import Clock, Hub, Runner, fleet
from tests.unit.deploy.test_run import SMOKE, run


def statuses(spec, provider):
    return {c.name: provider.status(spec, c) for c in spec.clusters}


def orchestrator_hub(provider, spoke):
    docs = [d for d in yaml.safe_load_all(provider.manifests[spoke][-1]) if d]
    args = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"][0]["args"]  # fmt: skip
    return args[args.index("--hub") + 1]


def test_a_moved_hub_is_seen_and_rewired(tmp_path):
    spec = fleet()
    result, _, provider, _ = run(spec, tmp_path=tmp_path, image=SMOKE)
    recorded = load_deployed(spec, tmp_path)
    assert recorded is not None
    assert (recorded.hub_node, recorded.hub_host) == ("t-hub-control-plane", "172.18.0.2")
    assert recorded.image == result.image
    assert hub_moved(spec, statuses(spec, provider), tmp_path) is None

    provider.addresses["t-hub-control-plane"] = "172.18.0.9"  # after a Docker restart
    moved = hub_moved(spec, statuses(spec, provider), tmp_path)
    assert moved is not None
    assert moved.startswith(
        "the hub node t-hub-control-plane is at 172.18.0.9 now, not at 172.18.0.2"
    )
    assert "`kindfleet rewire -f" in moved

    provider.log.clear()
    runner = Runner(api_servers={"kind-t-cpu": ["172.18.0.4"], "kind-t-gpu": ["172.18.0.5"]})
    clock = Clock()
    hub = Hub({"t-cpu": 1, "t-gpu": 1})
    again = rewire(spec, provider, runner=runner, state_root=tmp_path, sleep=clock.sleep,
                   clock=clock, hub_client=hub)  # fmt: skip
    assert sorted(e[1] for e in provider.log if e[0] == "apply") == ["t-cpu", "t-gpu"]  # no hub
    # every apply of a spoke carries a fresh join token (its Secret is applied too)
    assert sorted(t.spoke for t in hub.minted) == ["t-cpu", "t-gpu"]
    for token in hub.minted:
        docs = [d for d in yaml.safe_load_all(provider.manifests[token.spoke][-1]) if d]
        secret = next(d for d in docs if d["kind"] == "Secret")
        assert secret["stringData"] == {"token": token.token}
    assert not runner.argvs("docker") and not [e for e in provider.log if e[0] == "load"]
    assert orchestrator_hub(provider, "t-cpu") == "http://172.18.0.9:30080"
    assert again.image == result.image and again.spokes_ready == ("t-cpu", "t-gpu")
    assert hub_moved(spec, statuses(spec, provider), tmp_path) is None


def test_rewire_needs_a_deploy_from_this_machine(tmp_path):
    spec = fleet()
    try:
        rewire(spec, object(), runner=Runner(), state_root=tmp_path)  # type: ignore[arg-type]
    except UsageError as exc:
        assert "was not deployed from this machine" in exc.message
        assert "kindfleet deploy -f" in (exc.hint or "")
    else:
        raise AssertionError("rewire without a deploy must be refused")


def test_rewire_on_the_local_runtime_says_there_is_nothing_to_rewire(tmp_path):
    """It pointed at `deploy`, which then said there was nothing to deploy."""
    from kindfleet.fleetspec import from_text
    from kindfleet.providers.local import LocalProvider

    spec = from_text("apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: l\nprovider: local\n")
    try:
        rewire(spec, LocalProvider(tmp_path), runner=Runner(), state_root=tmp_path)
    except UsageError as exc:
        assert "nothing to rewire" in exc.message and "deploy" not in (exc.hint or "")
    else:
        raise AssertionError("rewire of a local fleet must be refused")
