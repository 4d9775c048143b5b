"""`kindfleet rewire`: point the spokes at the hub where it is now, and nothing else.

After a Docker restart the hub node may have another address (see `drift`). Rewiring is
deploy's own steps, less everything that does not depend on that address: no image is
built, pushed or loaded (the pods keep the image deploy recorded), no GPU is patched, the
hub is left as it is. The spokes' orchestrators get the new `--hub` and NetworkPolicy
(and, as every apply of a spoke, a fresh join token, see `joining`), roll out, and
(unless told not to wait) register with the hub again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kindfleet.deploy.context import DeployContext, HubClientFactory, default_hub_client
from kindfleet.deploy.image import IF_NOT_PRESENT, ImagePlan
from kindfleet.deploy.options import DeployOptions, DeployResult
from kindfleet.deploy.preconditions import preconditions
from kindfleet.deploy.run import STEPS, DeployPartialFailure, result_of, run_steps
from kindfleet.deploy.state import load_deployed
from kindfleet.errors import UsageError
from kindfleet.exec import Runner
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.lifecycle.context import Interruptible
from kindfleet.lifecycle.events import Reporter, ignore
from kindfleet.lifecycle.results import failure_message
from kindfleet.providers.base import Provider, traits

REWIRE = ("check", "tokens", "facts", "render", "access", "join", "spokes", "registered")


def rewire(
    fleet: FleetSpec,
    provider: Provider,
    *,
    runner: Runner,
    wait: bool = True,
    wait_seconds: float = 300.0,
    parallel: int = 4,
    report: Reporter = ignore,
    state_root: Path | None = None,
    hub_client: HubClientFactory = default_hub_client,
    interrupter: Interruptible | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DeployResult:
    source = fleet.source or "FILE"
    if traits(provider).runs_platform:
        raise UsageError(
            f"provider {provider.name} runs the platform as processes on this machine, and "
            "its spokes always dial the hub where it is: there is nothing to rewire",
            hint=f"`kindfleet up -f {source}` starts again what is not running",
        )
    deployed = load_deployed(fleet, state_root)
    if deployed is None or deployed.image is None:
        raise UsageError(
            f"the platform of fleet {fleet.name!r} was not deployed from this machine",
            hint=f"`kindfleet deploy -f {source}` deploys it (and wires the spokes)",
        )
    if deployed.hub_node is None:
        raise UsageError(
            "the spokes dial the hub URL deploy was given, not a node's address: there is "
            "nothing to rewire",
            hint=f"`kindfleet deploy -f {source} --hub-url URL` changes that URL",
        )
    options = DeployOptions(
        image=deployed.image, wait=wait, wait_seconds=wait_seconds, parallel=parallel
    )
    preconditions(fleet, provider, options)
    policy = deployed.image_pull_policy or IF_NOT_PRESENT
    ctx = DeployContext(
        fleet=fleet,
        provider=provider,
        options=options,
        runner=runner,
        plan=ImagePlan(deployed.image, None, None, False, deployed.image, policy),
        report=report,
        state_root=state_root,
        hub_client=hub_client,
        interrupter=interrupter,
        clock=clock,
        sleep=sleep,
    )
    ctx.image_id = deployed.image_id
    start = clock()
    run_steps(ctx, tuple(step for step in STEPS if step.key in REWIRE))
    result = result_of(ctx, clock() - start)
    if ctx.failed:
        message = failure_message("be rewired", ctx.failed, len(fleet.spokes))
        raise DeployPartialFailure(message, result=result, failed=dict(ctx.failed))
    return result
