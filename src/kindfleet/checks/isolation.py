"""isolation: a spoke's credential reaches only that spoke's own endpoints; on
Kubernetes, a workload cannot open a connection to the hub (a probe workload tries)."""

from __future__ import annotations

import httpx2

from kindfleet.checks.context import Check, Context
from kindfleet.checks.model import CheckFailed, CheckSkipped
from kindfleet.platform.wire import API_PREFIX, WorkloadState

TINY = {"cpu_millis": 1, "memory_bytes": 1}
PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
except OSError as exc:
    print(f"KF blocked {type(exc).__name__}", flush=True)
    sys.exit(0)
print("KF reached", flush=True)
sys.exit(3)
"""


def _probes(ctx: Context) -> object:
    probes = ctx.target.probes(kubeconfig=ctx.options.kubeconfig)
    if probes is None:
        raise CheckSkipped("the provider cannot read what a spoke holds")
    return probes


def credential_scope(ctx: Context) -> tuple[str, dict[str, float]]:
    spokes = ctx.spec.spokes
    if len(spokes) < 2:
        raise CheckSkipped("needs two spokes: one credential tried on the other's endpoints")
    probes = _probes(ctx)
    mine, other = spokes[0], spokes[1]
    credential = probes.spoke_credential(ctx.spec, mine)  # type: ignore[attr-defined]
    with ctx.target.hub(kubeconfig=ctx.options.kubeconfig) as hub:
        url = hub.url
    tries = [
        ("POST", f"/spokes/{mine.name}/events", {}, (200,)),  # its own: the credential works
        ("GET", "/workloads", None, (401, 403)),
        ("GET", f"/spokes/{other.name}/assignments?wait=0", None, (401, 403)),
        ("POST", f"/spokes/{other.name}/heartbeat", {"capacity": TINY}, (401, 403)),
        ("POST", f"/spokes/{other.name}/events", {}, (401, 403)),
    ]  # fmt: skip
    with httpx2.Client(base_url=url + API_PREFIX, timeout=10, trust_env=False) as http:
        for method, path, body, allowed in tries:
            answer = http.request(
                method, path, json=body, headers={"Authorization": f"Bearer {credential}"}
            )
            if answer.status_code not in allowed:
                raise CheckFailed(
                    f"{mine.name}'s credential on {method} {path}: {answer.status_code}, "
                    f"expected {' or '.join(map(str, allowed))}"
                )
    return (
        f"{mine.name}'s credential works on its own endpoints and is refused on "
        f"{other.name}'s and on the workload API",
        {"refused": len(tries) - 1},
    )


def workload_network(ctx: Context) -> tuple[str, dict[str, float]]:
    if not ctx.spec.rules.kubernetes:
        raise CheckSkipped(
            f"provider {ctx.spec.provider} runs work as local processes: no network boundary"
        )
    probes = _probes(ctx)
    results = []
    for spoke in ctx.spec.spokes:
        where = probes.hub_address_inside(ctx.spec, spoke)  # type: ignore[attr-defined]
        if where is None:
            raise CheckSkipped(f"the hub's address inside {spoke.name} is not known")
        host, port = where
        name_label = {"match_labels": dict(spoke.labels)} if spoke.labels else {}
        spec = ctx.script("probe", PROBE, selector=name_label)
        spec = spec.model_copy(update={"command": [*spec.command, host, str(port)]})
        (workload_id,) = ctx.submit([spec])
        (w,) = ctx.wait([workload_id], lambda w: w.state.terminal, "the probe workload", 180)
        if w.state != WorkloadState.SUCCEEDED:
            raise CheckFailed(
                f"a workload on {w.spoke} reached the hub at {host}:{port} (or the probe "
                f"failed: {w.state.value}, exit {w.attempts[-1].exit_code if w.attempts else '-'})"
            )
        results.append(w.spoke or "?")
    return (
        f"probe workloads on {', '.join(sorted(set(results)))} could not reach the hub",
        {"probes": len(results)},
    )


CHECKS: dict[str, Check] = {
    "credential-scope": credential_scope,
    "workload-network": workload_network,
}
