"""Getting the platform image into the clusters: build it, then push it to the fleet's
registry or `kind load` it into every cluster (in parallel), as the plan says.

All through the one runner, so a failure shows the exact docker or kind command and its
output. An `--image` that is not on this machine is left for the nodes to pull.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kindfleet.deploy import image as im
from kindfleet.deploy.context import DeployContext
from kindfleet.errors import KindfleetError, PrerequisiteError, UsageError
from kindfleet.exec import failure_says
from kindfleet.lifecycle.parallel import run_parallel
from kindfleet.providers.base import HostsRegistry


def source_tree() -> Path | None:
    """The kindfleet checkout this installation runs from, if it has a Dockerfile."""
    root = Path(__file__).resolve().parents[3]  # <root>/src/kindfleet/deploy/shipping.py
    if (root / "Dockerfile").is_file() and (root / "src" / "kindfleet").is_dir():
        return root
    return None


def _size(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def local_image(ctx: DeployContext, ref: str) -> tuple[str, int] | None:
    result = ctx.runner.run(im.inspect_cmd(ref), check=False)
    return im.parse_inspect(result.stdout) if result.ok else None


def build(ctx: DeployContext) -> str | None:
    """Build the image (or find the one --image names); its ID goes on the pod templates."""
    plan = ctx.plan
    if plan.build_context is not None:
        if not (plan.build_context / "Dockerfile").is_file():
            raise UsageError(
                f"{plan.build_context} has no Dockerfile",
                hint="pass --build-context DIR (a kindfleet checkout) or --image REF",
            )
        with failure_says(
            f"could not build {plan.source}",
            hint="without Docker Hub access pass --build-arg PYTHON_IMAGE=<a Python "
            "3.11+ image you have>; or pass --image REF",
        ):
            ctx.runner.run(im.build_cmd(plan.build_context, plan.source, ctx.options.build_args))
    found = local_image(ctx, plan.source)
    if found is None:
        if plan.build_context is not None:
            raise KindfleetError(f"docker build made no image {plan.source}")
        ctx.plan = plan.as_remote()
        ctx.warn(f"{plan.source} is not on this machine: the nodes pull it themselves", "image")
        return "not local: pulled by the nodes"
    ctx.image_id = found[0]
    return f"{found[0][:19]} ({_size(found[1])})"


def push(ctx: DeployContext) -> str | None:
    plan, registry = ctx.plan, ctx.fleet.registry
    assert plan.push_as is not None
    assert registry is not None
    if isinstance(ctx.provider, HostsRegistry):
        status = ctx.provider.registry_status(ctx.fleet)
        if status is None or not status.running:
            raise PrerequisiteError(
                f"the fleet's registry {registry.name} is not running",
                hint="`kindfleet up` starts it (and keeps the clusters that are up)",
            )
    ctx.runner.run(im.tag_cmd(plan.source, plan.push_as))
    with failure_says(
        f"could not push to the fleet's registry at {registry.host_endpoint}",
        hint="`kindfleet status` shows the registry; `kindfleet up` restarts it",
    ):
        pushed = ctx.runner.run(im.push_cmd(plan.push_as))
    digest = im.pushed_digest(pushed.output)
    if digest is None:
        ctx.warn(f"docker push named no digest: pods run {plan.push_as} by its tag", "pushing")
        return f"{plan.push_as}; nodes pull it from {registry.internal_endpoint}"
    ctx.plan = replace(plan, ref=im.by_digest(plan.push_as, digest), pull_policy=im.IF_NOT_PRESENT)
    return f"{ctx.plan.ref}; nodes pull it from {registry.internal_endpoint}"


def load(ctx: DeployContext) -> str | None:
    """`kind load docker-image` into every cluster at once, under a tag holding the image's
    ID (what the pods then run); each cluster on its own line."""
    if ctx.image_id is not None:
        tagged = im.content_tag(ctx.plan.source, ctx.image_id)
        ctx.runner.run(im.tag_cmd(ctx.plan.source, tagged))
        ctx.plan = replace(ctx.plan, ref=tagged)
    ref = ctx.plan.ref

    def one(name: str) -> None:
        ctx.emit(name, "loading image", "start")
        began = ctx.clock()
        try:
            ctx.provider.load_image(ctx.fleet, name, ref)
        except KindfleetError as exc:
            seconds = ctx.clock() - began
            ctx.emit(name, "loading image", "fail", exc.message.splitlines()[0], seconds=seconds)
            raise
        ctx.emit(name, "loading image", "done", ref, seconds=ctx.clock() - began)

    names = [c.name for c in ctx.fleet.clusters]
    results = run_parallel(
        names, one, limit=ctx.options.parallel, key=lambda n: n, on_interrupt=ctx.interrupt
    )
    failed = {n: str(r) for n, r in results.items() if isinstance(r, BaseException)}
    if failed:
        lines = [f"  {n}: {why.splitlines()[0]}" for n, why in failed.items()]
        raise KindfleetError(
            f"could not load {ref} into {len(failed)} of {len(names)} clusters:\n"
            + "\n".join(lines),
            hint="`kindfleet status` shows whether the clusters are up; run deploy again",
        )
    return f"{ref} in {len(names)} clusters"
