"""How a hub is configured: flags, `KINDFLEET_HUB_*` environment variables, or Python.

The local runtime, tests and a Kubernetes Deployment start the same hub in different
ways; they all end in one validated `HubSettings`. Tokens come from files the caller
wrote (never from the command line, where `ps` would show them), and are left out of
the settings' repr so that logging the settings cannot leak them.

Spokes join with join tokens minted per spoke (`kindfleet spokes token NAME`). A fleet-wide
token (`--fleet-token-file`, the old `--bootstrap-token-file`) is for development only and
off unless given: any name may join with it, and gets no work until approved.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kindfleet.errors import UsageError
from kindfleet.platform.hub.rules.leases import LeaseRules
from kindfleet.platform.hub.rules.placement import Policy

ENV_PREFIX = "KINDFLEET_HUB_"
DEFAULT_HEARTBEAT, DEFAULT_LEASE, DEFAULT_LOST = 2.0, 6.0, 30.0


@dataclass(frozen=True)
class HubSettings:
    store: str
    client_token: str = field(repr=False)
    fleet_token: str | None = field(default=None, repr=False)  # development only
    host: str = "127.0.0.1"
    port: int = 8700
    port_file: Path | None = None
    heartbeat_seconds: float = DEFAULT_HEARTBEAT
    lease_seconds: float = DEFAULT_LEASE
    lost_after_seconds: float = DEFAULT_LOST
    policy: Policy = Policy.SPREAD
    redeliver_seconds: float = 5.0  # unacknowledged assignments go out again after this
    tick_seconds: float = 0.5  # scheduler pass interval (health, deadlines, placement)
    telemetry_retention_seconds: float = 86400.0
    log_file: Path | None = None
    log_level: str = "info"
    scheduler: bool = True  # tests turn it off and call `tick()` themselves
    shutdown_grace_seconds: float = 10.0
    store_lock_wait_seconds: float = 10.0  # how long to wait for a previous hub to let go
    join_token_ttl_seconds: float = 3600.0  # default lifetime of a join token
    guard_max_seconds: float | None = None  # the guard delays Lost at most this (None: lost-after)
    read_threads: int = 2  # readers beside the store's writer
    # A hub no client can stall: every connection must send its request in time.
    header_timeout_seconds: float = 10.0  # from connect (or the end of the last answer)
    body_timeout_seconds: float = 60.0  # from the end of the headers to the end of the body
    keep_alive_seconds: float = 30.0  # idle connections are closed after this
    max_connections: int = 1024

    def __post_init__(self) -> None:
        problems = []
        if not self.client_token:
            problems.append("the client token must not be empty")
        elif self.fleet_token is not None and self.client_token == self.fleet_token:
            problems.append("the client token and the fleet token must differ")
        if self.fleet_token == "":
            problems.append("the fleet token must not be empty (leave it out to turn it off)")
        if self.join_token_ttl_seconds <= 0 or self.read_threads < 1 or self.max_connections < 1:
            problems.append(
                "join-token-ttl-seconds, read-threads and max-connections must be more than 0"
            )
        if min(
            self.header_timeout_seconds, self.body_timeout_seconds, self.keep_alive_seconds
        ) <= 0 or (self.guard_max_seconds is not None and self.guard_max_seconds < 0):
            problems.append("timeouts must be more than 0")
        if not 0 < self.heartbeat_seconds < self.lease_seconds < self.lost_after_seconds:
            problems.append(
                "need 0 < heartbeat-seconds < lease-seconds < lost-after-seconds, got "
                f"{self.heartbeat_seconds:g} < {self.lease_seconds:g} < "
                f"{self.lost_after_seconds:g}"
            )
        if self.redeliver_seconds <= 0 or self.tick_seconds <= 0:
            problems.append("redeliver-seconds and tick-seconds must be more than 0")
        if not 0 <= self.port <= 65535:
            problems.append(f"port {self.port} is not between 0 and 65535")
        if problems:
            raise UsageError("; ".join(problems), hint="fix the hub's flags or settings")

    @property
    def lease_rules(self) -> LeaseRules:
        guard = self.guard_max_seconds
        lost = self.lost_after_seconds
        return LeaseRules(self.lease_seconds, lost, lost if guard is None else guard)

    @property
    def keep_audible_seconds(self) -> float:
        """The longest window a silence is measured against (Lost plus the guard's
        longest hold): the hub's hearing keeps its marks that far back."""
        rules = self.lease_rules
        return rules.lost_after_seconds + rules.guard_max_seconds + self.lease_seconds


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m kindfleet.platform.hub",
        description="The kindfleet hub: workload API, placement, spoke leases, telemetry.",
        epilog=f"Every flag can also be set as {ENV_PREFIX}<FLAG>, e.g. {ENV_PREFIX}STORE.",
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--port-file", type=Path, help="write the bound port here (for --port 0)")
    p.add_argument("--store", help="sqlite:////abs/path/hub.db or postgresql+psycopg://...")
    p.add_argument("--client-token-file", type=Path)
    p.add_argument(
        "--fleet-token-file",
        type=Path,
        help="development only: one token any spoke may join with; such spokes get no "
        "work until `kindfleet spokes approve NAME`. Production spokes join with join "
        "tokens (`kindfleet spokes token NAME`).",
    )
    p.add_argument("--bootstrap-token-file", type=Path, help="the old name of --fleet-token-file")
    p.add_argument("--join-token-ttl-seconds", type=float)
    p.add_argument("--guard-max-seconds", type=float)
    p.add_argument("--read-threads", type=int)
    p.add_argument("--header-timeout-seconds", type=float)
    p.add_argument("--body-timeout-seconds", type=float)
    p.add_argument("--keep-alive-seconds", type=float)
    p.add_argument("--max-connections", type=int)
    p.add_argument("--heartbeat-seconds", type=float)
    p.add_argument("--lease-seconds", type=float)
    p.add_argument("--lost-after-seconds", type=float)
    p.add_argument("--redeliver-seconds", type=float)
    p.add_argument("--tick-seconds", type=float)
    p.add_argument("--telemetry-retention-seconds", type=float)
    p.add_argument("--store-lock-wait-seconds", type=float)
    p.add_argument("--policy", choices=[p.value for p in Policy])
    p.add_argument("--log-file", type=Path)
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    return p


_FLOATS = (
    "heartbeat_seconds",
    "lease_seconds",
    "lost_after_seconds",
    "redeliver_seconds",
    "tick_seconds",
    "telemetry_retention_seconds",
    "store_lock_wait_seconds",
    "join_token_ttl_seconds",
    "guard_max_seconds",
    "header_timeout_seconds",
    "body_timeout_seconds",
    "keep_alive_seconds",
)


def from_args(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> HubSettings:
    """Settings from flags, then `KINDFLEET_HUB_*` variables; UsageError when incomplete."""
    args = vars(_parser().parse_args(argv))
    env = os.environ if env is None else env
    for key, value in list(args.items()):
        if value is None and f"{ENV_PREFIX}{key.upper()}" in env:
            args[key] = env[f"{ENV_PREFIX}{key.upper()}"]
    if not args["store"]:
        raise UsageError("no store given", hint="pass --store sqlite:////abs/path/hub.db")
    values: dict[str, object] = {
        "store": args["store"],
        "client_token": _read_token(args["client_token_file"], "client"),
    }
    fleet_file = args["fleet_token_file"] or args["bootstrap_token_file"]
    if fleet_file:
        values["fleet_token"] = _read_token(fleet_file, "fleet")
    for name in ("host", "log_level"):
        if args[name]:
            values[name] = args[name]
    for name in ("port_file", "log_file"):
        if args[name]:
            values[name] = Path(args[name])
    _numbers(args, values)
    if args["policy"]:
        values["policy"] = _policy(str(args["policy"]))
    _fit_lease(values)
    return HubSettings(**values)  # type: ignore[arg-type]


def _numbers(args: dict[str, object], values: dict[str, object]) -> None:
    for name in ("port", "read_threads", "max_connections"):
        if args[name] is not None:
            values[name] = _number(int, name, args[name])
    for name in _FLOATS:
        if args[name] is not None:
            values[name] = _number(float, name, args[name])


def _fit_lease(values: dict[str, object]) -> None:
    """A short --lost-after-seconds alone (failure drills) brings the defaults below it:
    the lease becomes half of it and the heartbeat a third of the lease."""
    lost = float(str(values.get("lost_after_seconds", DEFAULT_LOST)))
    if "lease_seconds" not in values and lost <= DEFAULT_LEASE:
        values["lease_seconds"] = lost / 2
    lease = float(str(values.get("lease_seconds", DEFAULT_LEASE)))
    if "heartbeat_seconds" not in values and lease <= DEFAULT_HEARTBEAT:
        values["heartbeat_seconds"] = lease / 3


def _read_token(path: object, kind: str) -> str:
    if not path:
        raise UsageError(
            f"no {kind} token file given", hint=f"pass --{kind}-token-file FILE (one token)"
        )
    try:
        token = Path(str(path)).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(
            f"cannot read the {kind} token file {path}: {exc.strerror}",
            hint="create it with one token on one line",
        ) from exc
    if not token or any(ch.isspace() for ch in token):
        raise UsageError(
            f"the {kind} token file {path} must hold exactly one token",
            hint="write one token without spaces",
        )
    return token


def _number(kind: type[int] | type[float], name: str, raw: object) -> float:
    try:
        return kind(str(raw))
    except ValueError as exc:
        raise UsageError(f"{name} must be a number, got {raw!r}") from exc


def _policy(raw: str) -> Policy:
    try:
        return Policy(raw)
    except ValueError as exc:
        raise UsageError(f"policy must be spread or binpack, got {raw!r}") from exc
