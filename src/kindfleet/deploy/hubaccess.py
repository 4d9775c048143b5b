"""After the apply: remember how this machine reaches the hub (so `kindfleet submit` and
friends find it), then watch the hub until every spoke has registered and is Ready, which
is the proof that the cross-cluster wiring works: only a spoke can open that connection.
"""

from __future__ import annotations

from kindfleet.deploy import facts as ft
from kindfleet.deploy import state as deploy_state
from kindfleet.deploy.context import DeployContext
from kindfleet.deploy.joining import UNREACHABLE_HINT
from kindfleet.deploy.manifests.objects import CONTROL_NAMESPACE
from kindfleet.errors import KindfleetError
from kindfleet.lifecycle.events import FLEET
from kindfleet.platform.wire import SpokeHealth

POLL_SECONDS = 1.0


def access(ctx: DeployContext) -> str | None:
    """kind: the host port the hub's NodePort is published on, else a hub node's IP;
    existing: the --hub-url."""
    url = ctx.options.hub_url
    if url is None:
        hub = ctx.fleet.hub
        facts = ctx.deploy_facts()
        url = ft.access_url(hub, facts.hub_host)
    if url is None:
        raise KindfleetError("no way to reach the hub from this machine is known")
    ctx.access_url = url
    facts = ctx.deploy_facts()
    node = None
    if facts.hub_url is None and ctx.fleet.hub.name in ctx.statuses:
        found = ft.hub_address(ctx.fleet.hub, ctx.statuses[ctx.fleet.hub.name].nodes)
        node = found[0] if found else None
    deployed = deploy_state.Deployed(
        hub=url,
        hub_node=node,
        hub_host=facts.hub_host if node else None,
        image=facts.image,
        image_pull_policy=facts.image_pull_policy,
        image_id=facts.image_id,
    )
    deploy_state.save_deployed(ctx.fleet, deployed, ctx.state_root)
    return f"{url} (`kindfleet submit` and `kindfleet workloads` use it)"


def wait_spokes(ctx: DeployContext) -> str | None:
    """Every spoke that was deployed appears Ready in the hub's spoke list."""
    assert ctx.access_url is not None
    assert ctx.client_token is not None
    wanted = [c.name for c in ctx.fleet.spokes if c.name not in ctx.failed]
    if not wanted:
        return "no spoke to wait for"
    for name in wanted:
        ctx.emit(name, "registering with the hub", "start")
    began = ctx.clock()
    deadline = began + ctx.options.wait_seconds
    seen: dict[str, str] = {}
    last_error = ""
    client = ctx.hub_client(ctx.access_url, ctx.client_token)
    try:
        while True:
            try:
                seen = {s.name: str(s.health) for s in client.spokes()}
                last_error = ""
            except KindfleetError as exc:
                last_error = exc.message.splitlines()[0]
            for name in wanted:
                if seen.get(name) == SpokeHealth.READY and name not in ctx.spokes_ready:
                    ctx.spokes_ready.append(name)
                    seconds = ctx.clock() - began
                    ctx.emit(name, "Ready in the hub", "done", seconds=seconds, final=True)
            waiting = [n for n in wanted if n not in ctx.spokes_ready]
            if not waiting:
                return f"{len(wanted)} spokes Ready"
            if ctx.clock() >= deadline:
                raise _timeout(ctx, waiting, seen, last_error)
            ctx.sleep(POLL_SECONDS)
    finally:
        client.close()


def _timeout(
    ctx: DeployContext, waiting: list[str], seen: dict[str, str], last_error: str
) -> KindfleetError:
    for name in waiting:
        why = seen.get(name, "not registered")
        ctx.emit(name, "registering with the hub", "fail", why, final=True)
    states = ", ".join(f"{n} ({seen.get(n, 'not registered')})" for n in waiting)
    seconds = ctx.options.wait_seconds
    if last_error and not seen:
        ctx.emit(FLEET, "spokes", "warn", last_error)
        return KindfleetError(
            f"the hub at {ctx.access_url} did not answer from this machine within {seconds:g}s: "
            f"{last_error}",
            hint=UNREACHABLE_HINT,
        )
    spoke = ctx.fleet.cluster(waiting[0])
    return KindfleetError(
        f"not Ready in the hub after {seconds:g}s: {states}",
        hint=(
            f"see why: kubectl --context {spoke.context} -n {CONTROL_NAMESPACE} logs "
            "deploy/orchestrator"
        ),
    )
