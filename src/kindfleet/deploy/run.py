"""`deploy`: the platform onto the fleet's clusters, as an ordered list of small steps.

Check the clusters, get the image into them, the client token, deploy facts, simulated
GPUs, render and validate, apply the hub, remember how to reach it, mint each spoke's
join token through it, apply the spokes, wait for every spoke to register. A dry run
does the looking, rendering and validating and nothing that changes a cluster or an
image. Each step is one progress line (or one per cluster), like `up`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kindfleet._version import __version__
from kindfleet.deploy import applying, clusters, hubaccess, joining, shipping
from kindfleet.deploy import state as deploy_state
from kindfleet.deploy.context import DeployContext, HubClientFactory, default_hub_client
from kindfleet.deploy.facts import check_hub_url
from kindfleet.deploy.image import plan_image
from kindfleet.deploy.manifests.objects import hub_url
from kindfleet.deploy.options import DeployOptions, DeployResult
from kindfleet.deploy.preconditions import preconditions
from kindfleet.deploy.validate import Validate, load_validator
from kindfleet.errors import PartialFailure
from kindfleet.exec import Runner
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.lifecycle import steprunner
from kindfleet.lifecycle.context import Interruptible
from kindfleet.lifecycle.events import FLEET, Reporter, ignore
from kindfleet.lifecycle.results import failure_message
from kindfleet.providers.base import Provider, traits

Step = steprunner.Step[DeployContext]
_always = steprunner.always


def _changes(ctx: DeployContext) -> bool:
    return not ctx.options.dry_run


def _tokens(ctx: DeployContext) -> str | None:
    ctx.client_token = deploy_state.client_token(ctx.fleet, ctx.state_root)
    return "the fleet's client token (stored 0600 on this machine); spokes get join tokens"


def _would_apply(ctx: DeployContext) -> str | None:
    """A dry run's last line per cluster: what it would get."""
    for name, objects in ctx.manifests.items():
        ctx.emit(name, f"would apply {len(objects)} objects", "done", final=True)
    return None


def _describe_plan(ctx: DeployContext) -> str | None:
    plan = ctx.plan
    how = f"would build {plan.source} from {plan.build_context}" if plan.build_context else ""
    how = how or f"would use {plan.source}"
    if plan.push_as:
        how += f", push it as {plan.push_as}"
    elif plan.load:
        how += ", `kind load` it into every cluster"
    return how


STEPS: tuple[Step, ...] = (
    Step("check", lambda ctx: "checking clusters", _always, clusters.check),
    Step("plan", lambda ctx: "image", lambda ctx: ctx.options.dry_run, _describe_plan),
    Step(
        "build",
        lambda ctx: (
            f"building image {ctx.plan.source}"
            if ctx.plan.build_context
            else f"image {ctx.plan.source}"
        ),
        _changes,
        shipping.build,
    ),
    Step(
        "push",
        lambda ctx: "pushing the image to the registry",
        lambda ctx: _changes(ctx) and ctx.plan.push_as is not None,
        shipping.push,
    ),
    Step(
        "load",
        lambda ctx: "loading the image into every cluster",
        lambda ctx: _changes(ctx) and ctx.plan.load,
        shipping.load,
    ),
    Step("tokens", lambda ctx: "tokens", _always, _tokens),
    Step("facts", lambda ctx: "deploy facts", _always, clusters.facts),
    Step("gpus", lambda ctx: "simulated GPUs", clusters.wants_gpus, clusters.gpus),
    Step("render", lambda ctx: "rendering and validating", _always, applying.render),
    Step(
        "would-apply",
        lambda ctx: "would apply",
        lambda ctx: ctx.options.dry_run,
        _would_apply,
        own_lines=True,
    ),
    Step("hub", lambda ctx: "hub", _changes, applying.apply_hub, own_lines=True),
    Step("access", lambda ctx: "hub access from this machine", _changes, hubaccess.access),
    Step("join", lambda ctx: "join tokens", _changes, joining.join),
    Step("spokes", lambda ctx: "spokes", _changes, applying.apply_spokes, own_lines=True),
    Step(
        "registered",
        lambda ctx: "spokes Ready in the hub",
        lambda ctx: _changes(ctx) and ctx.options.wait,
        hubaccess.wait_spokes,
    ),
)


class DeployPartialFailure(PartialFailure):
    """The hub is deployed, some spokes are not; `result` has what was done."""

    def __init__(self, message: str, *, result: DeployResult, failed: dict[str, str]) -> None:
        super().__init__(
            message, failed=failed, hint="fix the cause and run `kindfleet deploy` again"
        )
        self.result = result


def deploy(
    fleet: FleetSpec,
    provider: Provider,
    options: DeployOptions | None = None,
    *,
    runner: Runner,
    report: Reporter = ignore,
    state_root: Path | None = None,
    validator: Callable[[], Validate | None] = load_validator,
    hub_client: HubClientFactory = default_hub_client,
    source_tree: Callable[[], Path | None] = shipping.source_tree,
    interrupter: Interruptible | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DeployResult:
    options = options or DeployOptions()
    preconditions(fleet, provider, options)
    if options.hub_url:
        options = replace(options, hub_url=check_hub_url(options.hub_url))
    plan = plan_image(
        fleet,
        options,
        owns_clusters=traits(provider).owns_clusters,
        version=__version__,
        source_tree=None if options.image or options.build_context else source_tree(),
    )
    ctx = DeployContext(
        fleet=fleet,
        provider=provider,
        options=options,
        runner=runner,
        plan=plan,
        report=report,
        state_root=state_root,
        validator=validator(),
        hub_client=hub_client,
        interrupter=interrupter,
        clock=clock,
        sleep=sleep,
    )
    start = clock()
    run_steps(ctx)
    result = result_of(ctx, clock() - start)
    if ctx.failed:
        message = failure_message("take the platform", ctx.failed, len(fleet.spokes))
        raise DeployPartialFailure(message, result=result, failed=dict(ctx.failed))
    return result


def run_steps(ctx: DeployContext, steps: tuple[Step, ...] = STEPS) -> None:
    steprunner.run_steps(ctx, steps, emits=ctx, clock=ctx.clock, where=FLEET)


def result_of(ctx: DeployContext, seconds: float) -> DeployResult:
    facts = ctx.facts
    return DeployResult(
        fleet=ctx.fleet.name,
        provider=ctx.provider.name,
        image=ctx.plan.ref,
        image_pull_policy=ctx.plan.pull_policy,
        hub_url=hub_url(ctx.fleet, facts) if facts else "",
        access_url=ctx.access_url,
        manifests=ctx.manifests,
        dry_run=ctx.options.dry_run,
        seconds=seconds,
        spokes_ready=tuple(sorted(ctx.spokes_ready)),  # not in the order they turned Ready
        notes=tuple(ctx.notes),
    )
