"""Join tokens: once the hub answers, one per spoke, minted through the hub's API with the
client token, into that spoke's `orchestrator-bootstrap` Secret (key `token`).

There is no fleet-wide token: a join token is bound to one spoke's name, single use and
expiring (the hub's default, 1 h), so it can only be minted by a running hub, which is
why this step comes after the hub's apply and before the spokes'.

Every deploy and every rewire mints a fresh token for every spoke and replaces the
Secret's value; nothing else in the spoke's manifests changes, so no pod restarts. An
orchestrator that has joined never reads the token again: it keeps the credential it got
for it on its state volume and comes back with that after any restart, however long
after. The token only matters when that credential is gone (the state volume deleted,
the hub's store reset, the spoke removed): the orchestrator re-reads the file at each
attempt, so the newest token in the Secret is the one it uses, and once that one has
expired or was spent, `kindfleet rewire` (or deploy) puts a fresh one there.
"""

from __future__ import annotations

from dataclasses import replace

from kindfleet.deploy.context import DeployContext, HubApi
from kindfleet.deploy.manifests import render_manifests
from kindfleet.errors import KindfleetError, PrerequisiteError

POLL_SECONDS = 1.0


def join(ctx: DeployContext) -> str | None:
    """Wait (up to the deploy's wait) for the hub to answer from this machine, then mint
    each spoke's join token and render it into that spoke's Secret."""
    assert ctx.access_url is not None, "the access step runs before this one"
    assert ctx.client_token is not None
    client = ctx.hub_client(ctx.access_url, ctx.client_token)
    try:
        _wait_for_hub(ctx, client)
        minted = {spoke.name: client.join_token(spoke.name) for spoke in ctx.fleet.spokes}
    finally:
        client.close()
    ctx.facts = replace(
        ctx.deploy_facts(), join_tokens={name: t.token for name, t in minted.items()}
    )
    for spoke in ctx.fleet.spokes:
        ctx.manifests[spoke.name] = render_manifests(ctx.fleet, ctx.facts, spoke.name)[spoke.name]
    expires = min(t.expires_at for t in minted.values()) if minted else None
    until = f", valid until {expires:%Y-%m-%d %H:%M} UTC" if expires else ""
    return f"{len(minted)} join tokens minted by the hub (one per spoke, single use{until})"


def _wait_for_hub(ctx: DeployContext, client: HubApi) -> None:
    """The hub answers with the fleet's client token; an unreachable hub is waited for,
    any other answer (a refused token) stops the deploy at once."""
    deadline = ctx.clock() + ctx.options.wait_seconds
    while True:
        try:
            client.spokes()
            return
        except PrerequisiteError as exc:  # not reachable yet, or not serving yet
            if ctx.clock() >= deadline:
                raise KindfleetError(
                    f"the hub at {ctx.access_url} did not answer from this machine within "
                    f"{ctx.options.wait_seconds:g}s, so no spoke could get a join token: "
                    f"{exc.message.splitlines()[0]}",
                    hint=UNREACHABLE_HINT,
                ) from None
        ctx.sleep(POLL_SECONDS)


UNREACHABLE_HINT = (
    "where node IPs are not reachable from the host (Docker Desktop), publish the "
    "NodePort: a hub node's portMappings: [{containerPort: 30080, hostPort: 30080}]"
)
