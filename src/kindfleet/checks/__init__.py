"""`kindfleet check`: suites against the deployed reference platform, on any provider.

comms (registered, heartbeating, long-poll round trip), routing (labels, capacity, GPUs,
what fits nowhere), telemetry (arrives, in order, none lost), failover (the article's
`make test-failover`: spokes killed, stopped, frozen, cut off; the hub down), isolation
(a credential's reach; workloads' network on Kubernetes). Each check is bounded in time,
uses real workloads, and reports what it measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from kindfleet.checks import comms, failover, isolation, routing, telemetry
from kindfleet.checks.context import Check, CheckOptions, Context
from kindfleet.checks.model import (
    FAILED,
    PASSED,
    SKIPPED,
    CheckFailed,
    CheckReport,
    CheckResult,
    CheckSkipped,
)
from kindfleet.checks.target import Target
from kindfleet.errors import KindfleetError, UsageError

SUITES: dict[str, dict[str, Check]] = {
    "comms": comms.CHECKS,
    "routing": routing.CHECKS,
    "telemetry": telemetry.CHECKS,
    "failover": failover.CHECKS,
    "isolation": isolation.CHECKS,
}


def selected(suites: Sequence[str] | None) -> list[tuple[str, str]]:
    """(suite, check) pairs for names like `comms` or `failover/spoke-kill`, in order."""
    names = list(suites) if suites else list(SUITES)
    picked: list[tuple[str, str]] = []
    for name in names:
        suite, _, one = name.partition("/")
        if suite not in SUITES or (one and one not in SUITES[suite]):
            known = ", ".join(SUITES)
            raise UsageError(
                f"no check suite {name!r}",
                hint=f"suites: {known}; one check: e.g. failover/spoke-kill",
            )
        for check in [one] if one else SUITES[suite]:
            if (suite, check) not in picked:
                picked.append((suite, check))
    return picked


def run(
    target: Target,
    suites: Sequence[str] | None = None,
    *,
    options: CheckOptions | None = None,
    progress: Callable[[CheckResult], None] = lambda r: None,
    starting: Callable[[str], None] = lambda name: None,
) -> CheckReport:
    """Run the suites' checks one after the other; one result per check, never raising
    for a check that fails (its result says why)."""
    ctx = Context(target, options or CheckOptions())
    report = CheckReport(target.spec.name, target.spec.provider)
    began = time.monotonic()
    for suite, name in selected(suites):
        starting(f"{suite}/{name}")
        started = time.monotonic()
        try:
            message, figures = SUITES[suite][name](ctx)
            outcome = PASSED
        except CheckSkipped as exc:
            message, figures, outcome = str(exc), {}, SKIPPED
        except (CheckFailed, KindfleetError) as exc:
            message, figures, outcome = str(exc), {}, FAILED
        result = CheckResult(suite, name, outcome, time.monotonic() - started, message, figures)
        report.results.append(result)
        progress(result)
    report.seconds = time.monotonic() - began
    return report


__all__ = ["SUITES", "CheckOptions", "CheckReport", "CheckResult", "run", "selected"]
