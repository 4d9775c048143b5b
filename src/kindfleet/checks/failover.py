"""failover: the article's `make test-failover`, through `kindfleet fault`.

A spoke that is killed, stopped, frozen or cut off while it runs work; the hub killed
while spokes run work (an outage longer than the loss window) and while work is being
submitted. Each measures how long the platform took to re-route, and checks from the
spokes' own logs that nothing accepted was lost and that no workload ran twice at once.

One case no lease system rules out (docs/platform.md): a spoke that is alive but frozen
or cut off keeps its copy until it hears the hub again. There the check asserts that the
copy is fenced (the workload's outcome is the re-routed run's) and stopped as soon as the
spoke reconnects, and reports how long the two copies overlapped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kindfleet.checks.context import Check, Context, Run, overlaps
from kindfleet.checks.model import CheckFailed, CheckSkipped
from kindfleet.errors import KindfleetError
from kindfleet.platform.wire import Workload, WorkloadState

DIED_WITH_IT = 1.0  # a killed agent's runs die with it: no sign of life after this
STOPPED_WITHIN = 20.0  # a graceful stop, or a stale copy stopped after reconnection
DEFAULT_LOST = 30.0  # the hub's default loss window, until one is measured


def _need_spokes(ctx: Context, action: str) -> None:
    if len(ctx.spec.spokes) < 2:
        raise CheckSkipped("needs at least two spokes: there is nowhere to re-route to")
    why = ctx.target.fault_refusal(
        action, ctx.spec.spokes[0].name, kubeconfig=ctx.options.kubeconfig
    )
    if why:
        raise CheckSkipped(f"cannot {action} a spoke here: {why}")


def _heartbeat(ctx: Context, spoke: str) -> float:
    with ctx.target.hub(kubeconfig=ctx.options.kubeconfig) as hub:
        for s in hub.spokes():
            if s.name == spoke and s.last_heartbeat:
                return s.last_heartbeat.timestamp()
    return time.time()


def _lost(ctx: Context) -> float:
    return ctx.options.lost_after or DEFAULT_LOST


def spoke_fault(ctx: Context, action: str) -> tuple[str, dict[str, float]]:
    _need_spokes(ctx, action)
    fenced = action in ("pause", "partition")  # alive but unheard: the case leases cannot rule out
    seconds = 2 * _lost(ctx) + 6 if fenced else 8.0
    ids = ctx.submit(
        [ctx.workload(action, seconds, retry={"max_retries": 2}) for _ in ctx.spec.spokes]
    )
    try:
        running = ctx.until(lambda: _running(ctx, ids), "the work to run", 120)
        victim = running[0].spoke
        assert victim is not None
        moved = [w.id for w in running if w.spoke == victim]
        last_beat = _heartbeat(ctx, victim)
        record = ctx.target.fault(action, victim, kubeconfig=ctx.options.kubeconfig)
        struck = record.injected_at
        try:
            ctx.wait(
                moved,
                lambda w: w.generation > 1 and w.spoke not in (None, victim),
                f"{victim}'s work to be re-routed",
                _lost(ctx) + 90,
            )
            noticed = time.time()
            if ctx.options.lost_after is None:
                ctx.options.lost_after = max(1.0, noticed - last_beat)
            if fenced:  # the cut-off copy goes on meanwhile: a while longer, then heal
                time.sleep(_lost(ctx))
        finally:
            ctx.target.clear_faults([record.id], kubeconfig=ctx.options.kubeconfig)
        healed = time.time()
        done = ctx.wait(ids, lambda w: w.state.terminal, "every workload to finish", seconds + 120)
    finally:
        ctx.cancel(ids)
    return _judge(
        ctx,
        done,
        action=action,
        victim=victim,
        moved=moved,
        struck=struck,
        healed=healed,
        fenced=fenced,
    )


def _running(ctx: Context, ids: list[str]) -> list[Workload] | None:
    """The workloads running now, if any (all of them need not be running at once)."""
    try:
        found = [w for w in ctx.workloads(ids) if w.state == WorkloadState.RUNNING]
    except KindfleetError:
        return None
    return found or None


def _judge(
    ctx: Context,
    done: list[Workload],
    *,
    action: str,
    victim: str,
    moved: list[str],
    struck: float,
    healed: float,
    fenced: bool,
) -> tuple[str, dict[str, float]]:
    lost = [f"{w.id} {w.state.value}" for w in done if w.state != WorkloadState.SUCCEEDED]
    if lost:
        raise CheckFailed(f"work did not survive the {action}: {', '.join(lost)}")
    runs = ctx.runs(done)
    reruns = [r for r in runs if r.workload in moved and r.spoke != victim]
    if not reruns:
        raise CheckFailed(f"no re-run of {victim}'s work was found in the spokes' logs")
    reroute = min(r.start for r in reruns) - struck
    stale = [r for r in runs if r.spoke == victim and r.workload in moved]
    figures = {"loss_to_reroute_s": reroute, "lost": 0.0, "moved": float(len(moved))}
    both = overlaps(runs)
    if fenced:
        late = max((r.last - healed for r in stale), default=0.0)
        figures["stale_copy_ran_after_heal_s"] = max(0.0, late)
        figures["overlap_s"] = max((s for *_, s in both), default=0.0)
        if late > STOPPED_WITHIN:
            raise CheckFailed(f"{victim}'s stale copies ran {late:.1f}s after it reconnected")
        note = (
            f"; its stale copies were fenced and stopped {max(0.0, late):.1f}s after the heal"
            f" (ran alongside the re-run for {figures['overlap_s']:.1f}s)"
        )
    else:
        outlived = max((r.last - struck for r in stale), default=0.0)
        allowed = DIED_WITH_IT if action == "kill" else STOPPED_WITHIN
        if outlived > allowed:
            raise CheckFailed(f"{victim}'s runs went on {outlived:.1f}s after the {action}")
        if both:
            a, b, s = both[0]
            raise CheckFailed(f"{a.workload} ran on {a.spoke} and {b.spoke} at once for {s:.1f}s")
        figures["overlap_s"] = 0.0
        note = "; never two runs at once"
    return (
        f"{action} {victim}: {len(moved)} workload(s) re-routed {reroute:.1f}s after the fault, "
        f"nothing lost{note}",
        figures,
    )


def hub_outage(ctx: Context) -> tuple[str, dict[str, float]]:
    """The hub down for longer than the loss window while spokes run work."""
    hub = ctx.spec.hub.name
    why = ctx.target.fault_refusal("kill", hub, kubeconfig=ctx.options.kubeconfig)
    if why:
        raise CheckSkipped(f"cannot kill the hub here: {why}")
    ids = ctx.submit([ctx.workload("outage", 2.0) for _ in range(len(ctx.spec.spokes) + 1)])
    ctx.wait(ids, lambda w: w.state == WorkloadState.RUNNING, "the work to run", 120)
    outage = _lost(ctx) + 2.0
    record = ctx.target.fault("kill", hub, kubeconfig=ctx.options.kubeconfig)
    try:
        time.sleep(outage)
    finally:
        ctx.target.clear_faults([record.id], kubeconfig=ctx.options.kubeconfig)
    back = time.time()
    done = ctx.wait(ids, lambda w: w.state.terminal, "every workload to finish", 120)
    bad = [
        f"{w.id}: {w.state.value} ({w.reason}: {w.message}) gen {w.generation}"
        for w in done
        if w.state != WorkloadState.SUCCEEDED or w.generation != 1 or len(w.attempts) != 1
    ]
    if bad:
        raise CheckFailed(f"the outage re-routed or lost work (a mass kill?): {'; '.join(bad)}")
    runs = ctx.runs(done)
    if len(runs) != len(ids) or any(not r.ended or r.last > back for r in runs):
        raise CheckFailed("the spokes did not finish their work, once each, while the hub was down")
    names = {s.name for s in ctx.spec.spokes}
    ctx.until(lambda: _all_ready(ctx, names), "every spoke Ready after the outage", _lost(ctx) + 60)
    _no_telemetry_twice(ctx)
    return (
        f"hub down {outage:.0f}s: spokes finished {len(ids)} workloads meanwhile, reports "
        "arrived once, no spoke declared Lost, no re-route",
        {"outage_s": outage, "lost": 0.0, "rerouted": 0.0},
    )


def _all_ready(ctx: Context, names: set[str]) -> bool:
    try:
        with ctx.target.hub(kubeconfig=ctx.options.kubeconfig) as hub:
            return {s.name for s in hub.spokes() if s.health.value == "Ready"} >= names
    except KindfleetError:
        return False


def _no_telemetry_twice(ctx: Context) -> None:
    with ctx.target.hub(kubeconfig=ctx.options.kubeconfig) as hub:
        series = hub.telemetry(limit=10000)
    for s in series:
        seqs = [p.seq for p in s.points]
        if len(seqs) != len(set(seqs)):
            raise CheckFailed(f"telemetry of {s.spoke} was applied twice")


def hub_kill_under_load(ctx: Context) -> tuple[str, dict[str, float]]:
    """kill -9 of the hub while work is being submitted: every accepted workload runs,
    once; what was refused while it was down was never promised."""
    hub = ctx.spec.hub.name
    why = ctx.target.fault_refusal("kill", hub, kubeconfig=ctx.options.kubeconfig)
    if why:
        raise CheckSkipped(f"cannot kill the hub here: {why}")
    accepted: list[str] = []
    refused = 0
    stop = threading.Event()

    def submit() -> None:
        nonlocal refused
        for i in range(30):
            if stop.is_set():
                return
            try:
                accepted.extend(ctx.submit([ctx.workload(f"load{i}", 0.3)]))
            except KindfleetError:
                refused += 1
                time.sleep(0.05)

    submitter = threading.Thread(target=submit, daemon=True)
    submitter.start()
    ctx.until(lambda: len(accepted) >= 10, "10 accepted submissions", 120)
    record = ctx.target.fault("kill", hub, kubeconfig=ctx.options.kubeconfig)
    try:
        time.sleep(1.5)
    finally:  # a Ctrl-C here must not leave the fleet's hub held down
        ctx.target.clear_faults([record.id], kubeconfig=ctx.options.kubeconfig)
    submitter.join(180)
    stop.set()
    done = ctx.wait(accepted, lambda w: w.state.terminal, "every accepted workload", 180)
    lost = [w.id for w in done if w.state != WorkloadState.SUCCEEDED]
    if lost:
        raise CheckFailed(f"accepted workloads lost: {lost}")
    runs = ctx.runs(done)
    count: dict[str, int] = {}
    for run in runs:
        count[run.workload] = count.get(run.workload, 0) + 1
    twice = [w for w, n in count.items() if n != 1]
    if twice or len(count) != len(accepted):
        raise CheckFailed(f"workloads that did not run exactly once: {twice or 'some never ran'}")
    return (
        f"{len(accepted)} accepted, {refused} refused while the hub was down; every accepted "
        "one ran exactly once",
        {"accepted": len(accepted), "refused": refused, "lost": 0.0, "duplicated": 0.0},
    )


def _spoke(action: str) -> Callable[[Context], tuple[str, dict[str, float]]]:
    def check(ctx: Context) -> tuple[str, dict[str, float]]:
        return spoke_fault(ctx, action)

    check.__doc__ = f"{action} a spoke that runs work"
    return check


CHECKS: dict[str, Check] = {
    "spoke-kill": _spoke("kill"),
    "spoke-stop": _spoke("stop"),
    "spoke-pause": _spoke("pause"),
    "spoke-partition": _spoke("partition"),
    "hub-outage": hub_outage,
    "hub-kill-under-load": hub_kill_under_load,
}
__all__ = ["CHECKS", "Run"]
