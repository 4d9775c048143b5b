"""Exclusive work: the lease rule that both the hub and the spoke agent know (issue 18).

An exclusive workload carries a lease: how long its run may go on unsupervised. The
grantor (the hub) and the holder (the spoke) count it from the same event, from opposite
sides, so that the holder always lets go first:

- the spoke counts from when it *sent* the last heartbeat the hub answered. The hub
  received that heartbeat no earlier, so the hub's "last heard" is never before it;
- the spoke stops the run once `lease * (1 - DRIFT) - grace - SLACK` has passed on its
  clock: DRIFT covers a spoke clock that runs slow against the hub's (rate, not offset:
  both sides measure durations on their own monotonic clocks, so wall-clock steps do
  not matter), `grace` is the stop's own SIGTERM-to-SIGKILL time, SLACK the agent's
  reaction (a supervision wake-up, the reaping of the process tree);
- the hub re-places it only once it has *heard nothing for the full lease*, counted in
  seconds it could have heard (its own restart and stalls do not count), and never
  before the spoke is Lost.

So the run is dead on the spoke before the hub may give it away: no partition, stall or
hub restart makes two runs of an exclusive workload overlap. The price: an exclusive run
also stops when the hub is unreachable for longer than about its lease, whatever the
reason.

Pure: no clock of its own; callers pass durations.
"""

from __future__ import annotations

DRIFT = 0.01  # a spoke clock may run up to 1% slow against the hub's (NTP keeps 0.01%)
SLACK = 1.0  # seconds: the agent noticing (a wake-up) and reaping a stopped run
DEFAULT_LEASE = 300.0  # seconds; docs/platform.md says why
SPOKE_GRACE = 5.0  # the agent's default --stop-grace-seconds (SIGTERM to SIGKILL)
MIN_LEASE = 5.0  # shorter leases leave no room between heartbeats
MIN_RUN = 2.0  # a spoke refuses exclusive work whose lease leaves it less than this
MAX_LEASE = 7 * 86400.0


def stop_after(lease: float, grace: float) -> float:
    """Seconds after the last answered heartbeat was sent when the spoke begins to stop
    an exclusive run, so that it is dead before `lease` has passed on the hub's clock.
    Never negative: a lease shorter than its margin stops the run at once."""
    return max(0.0, lease * (1.0 - DRIFT) - grace - SLACK)


def margin(lease: float, grace: float) -> float:
    """What the spoke keeps back from the lease: drift, the stop, the reaction."""
    return lease - stop_after(lease, grace)


def time_left(unanswered: float | None, lease: float, grace: float) -> float:
    """Seconds an exclusive run may still go on; <= 0: stop it now (or never start it).
    `unanswered` is the time since the last answered heartbeat was sent (None: no
    answer since this agent started, so nothing is known: no time at all)."""
    if unanswered is None:
        return 0.0
    return stop_after(lease, grace) - unanswered


def may_start(left: float, lease: float, grace: float) -> bool:
    """Whether an exclusive run with `left` seconds on its lease may start: with enough to
    do something before its stop (MIN_RUN, or half of what a fresh answer gives when that
    is less). Found from outside: thawed after a hub pause, a spoke whose last answered
    heartbeat had been sent just before it started every exclusive run with a second left,
    stopped each one (LeaseExpired) and spent a retry of every one."""
    return left >= min(MIN_RUN, stop_after(lease, grace) / 2)


def may_replace(silence: float, lease: float) -> bool:
    """Whether the hub may place an exclusive workload again: the spoke holding it has
    been silent, in seconds the hub could have heard, for the full lease."""
    return silence >= lease
