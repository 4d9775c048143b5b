"""Reaching a fleet's platform from this machine: the hub's API, and the logs of a run.

The hub is reached the way the provider says (the local runtime knows its own hub) or
the way `deploy` saved (a platform on clusters). Logs stay on the spoke that ran the
work (the data boundary): they are asked of that spoke through the provider, never of
the hub, which only ever sees status and telemetry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kindfleet.deploy.state import load_access
from kindfleet.errors import UsageError
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.platform.client import HubClient, HubUnavailable
from kindfleet.platform.wire import Workload, WorkloadState
from kindfleet.providers.base import Provider

STREAMS = ("stdout", "stderr")
NOT_STARTED = frozenset({WorkloadState.PENDING, WorkloadState.ASSIGNED})
STARTED = frozenset({WorkloadState.ASSIGNED, WorkloadState.RUNNING})  # an attempt's, not yet over


def hub_client(
    spec: FleetSpec,
    provider: Provider,
    *,
    state_root: Path | None = None,
    timeout: float = 10.0,
    unreachable_hint: Callable[[], str | None] = lambda: None,
) -> HubClient:
    """A client of the fleet's hub, with the fleet's client token."""
    url, token = hub_address(spec, provider, state_root=state_root)
    return HubClient(url, token, timeout=timeout, unreachable_hint=unreachable_hint)


def hub_address(
    spec: FleetSpec, provider: Provider, *, state_root: Path | None = None
) -> tuple[str, str]:
    """(URL, client token) of the fleet's hub: the provider's own, or what `deploy` saved."""
    access = provider.hub_access(spec)
    return (access.url, access.token) if access else load_access(spec, state_root)


def attempt_of(workload: Workload, generation: int | None) -> tuple[int, str]:
    """(generation, spoke) of the attempt asked for, by default the last one."""
    attempts = [(a.generation, a.spoke) for a in workload.attempts]
    if not attempts:
        raise UsageError(
            f"workload {workload.id} has not run anywhere yet (state {workload.state})",
            hint=f"see why with `kindfleet explain {workload.id}`",
        )
    if generation is None:
        return attempts[-1]
    for attempt in attempts:
        if attempt[0] == generation:
            return attempt
    raise UsageError(
        f"workload {workload.id} has no attempt {generation}",
        hint=f"attempts: {', '.join(str(g) for g, _ in attempts)}",
    )


def read_log(
    spec: FleetSpec,
    provider: Provider,
    workload: Workload,
    *,
    generation: int | None = None,
    stream: str = "stdout",
    tail: int | None = None,
) -> str:
    """A run's log, asked of the spoke that ran it; `tail`: only its last lines."""
    _check(stream, tail)
    number, spoke = attempt_of(workload, generation)
    text = provider.run_logs(spec, spec.cluster(spoke), workload.id, number, stream)
    return text if tail is None else last_lines(text, tail)


def follow_log(
    spec: FleetSpec,
    provider: Provider,
    hub: HubClient,
    workload: Workload,
    *,
    generation: int | None = None,
    stream: str = "stdout",
    tail: int | None = None,
    poll: float = 1.0,
    hub_silent: Callable[[str], None] = lambda _: None,
) -> None:
    """A run's log on this process's stdout, then what it writes until it ends. Work that
    has not started yet is waited for (the last attempt, once it starts). A hub that
    cannot be asked whether the run has ended is `hub_silent`'s to tell, once a spell."""
    _check(stream, tail)
    while generation is None and workload.state in NOT_STARTED:
        time.sleep(poll)
        workload = hub.get(workload.id)
    number, spoke = attempt_of(workload, generation)

    silent: list[bool] = [False]

    def running() -> bool:
        try:
            now = hub.get(workload.id)
        except HubUnavailable as exc:  # a hub that is restarting: the run goes on, so do we
            if not silent[0]:
                silent[0] = True
                hub_silent(f"{exc.message}; following on until it says the run has ended"
                           + (f" ({exc.hint})" if exc.hint else ""))  # fmt: skip
            return True
        silent[0] = False
        attempt = next((a for a in now.attempts if a.generation == number), None)
        return attempt is not None and attempt.state in STARTED  # not: ended, or retried

    provider.follow_logs(
        spec, spec.cluster(spoke), workload.id, number, stream, tail=tail, running=running
    )


def _check(stream: str, tail: int | None) -> None:
    if stream not in STREAMS:
        raise UsageError(f"no log stream {stream!r}", hint="stdout or stderr")
    if tail is not None and tail < 0:
        raise UsageError(f"--tail {tail}: a number of lines, 0 or more", hint="e.g. --tail 100")


def last_lines(text: str, n: int) -> str:
    """The last `n` lines of `text`, cut at newlines only (as kubectl counts, and as
    `spokectl logs --tail` cuts: a progress bar's carriage returns are inside its line); a
    last line without its newline counts as one."""
    if n <= 0 or not text:
        return ""
    at = len(text) - 1 if text.endswith("\n") else len(text)
    for _ in range(n):
        at = text.rfind("\n", 0, at)
        if at < 0:
            return text
    return text[at + 1 :]
