"""Who may register a spoke under a name: the join rules, as pure functions.

Three proofs open `POST /v1/spokes/register`, each for a different situation:

- a **join token** (`kindfleet spokes token NAME`): bound to one name, expiring, single
  use (Kubernetes' bootstrap tokens). The normal way in; the spoke is approved.
- the spoke's **own credential**: rotation. Always allowed for its own name, live or not.
- the **fleet token** (development only, off unless the hub is given one): any name, but
  the spoke gets no work until an operator approves it (OCM's double opt-in).

Whatever the proof, a live spoke cannot be taken over: re-registering a name whose lease
is current needs that spoke's own credential. Once the lease has run out (the agent is
gone or restarting), a valid join token for that name brings it back without a human; the
fleet token takes only a name no spoke holds: an approved spoke's credential replaced
would lock it out, and a spoke awaiting approval replaced would have the operator approve
the newcomer under the name they saw. An agent asking again with the credential it chose
is the spoke itself (`own_credential`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProofKind = Literal["join", "fleet", "credential"]

TOKEN_PREFIX = "kfjoin"
TOKEN_ID_LENGTH = 12
_ID_CHARS = frozenset("0123456789abcdef")
_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class JoinRefused(Exception):
    """A registration the rules refuse; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Proof:
    kind: ProofKind
    spoke: str | None = None  # the name a join token is bound to, or a credential's spoke


@dataclass(frozen=True, slots=True)
class Known:
    """What the hub knows of the name being registered."""

    last_heartbeat: float
    approved: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    approved: bool
    rotation: bool


def token_id(token: str) -> str | None:
    """The public id of a join token (`kfjoin.<12 hex>.<secret>`), or None if not one."""
    prefix, _, rest = token.partition(".")
    ident, _, secret = rest.partition(".")
    if (
        prefix != TOKEN_PREFIX
        or len(ident) != TOKEN_ID_LENGTH
        or not set(ident) <= _ID_CHARS
        or not 32 <= len(secret) <= 128
        or not set(secret) <= _SECRET_CHARS
    ):
        return None
    return ident


def check_token(bound_to: str, expires_at: float, used_at: float | None, now: float) -> None:
    """Refuse (401) a join token that was used or has expired."""
    if used_at is not None:
        raise JoinRefused(
            401,
            f"this join token for spoke {bound_to} was already used (they are single use); "
            f"mint a new one with `kindfleet spokes token {bound_to}`",
        )
    if now >= expires_at:
        raise JoinRefused(
            401,
            f"this join token for spoke {bound_to} has expired; "
            f"mint a new one with `kindfleet spokes token {bound_to}`",
        )


def live(known: Known | None, now: float, lease_seconds: float) -> bool:
    return known is not None and now - known.last_heartbeat < lease_seconds


def decide(
    proof: Proof,
    name: str,
    known: Known | None,
    now: float,
    lease_seconds: float,
    *,
    own_credential: bool = False,
) -> Verdict:
    """May `proof` register `name` now, and is the spoke approved to receive work?
    `own_credential`: the registration offers the credential the name holds now."""
    if proof.kind == "fleet" and own_credential and known is not None:
        # The agent that chose this credential, asking again: its answer was lost, or it
        # died before keeping it. Knowing the credential is being the spoke: its own retry.
        proof = Proof("credential", name)
    if proof.kind == "credential":
        if proof.spoke != name:
            raise JoinRefused(403, f"this credential belongs to another spoke, not to {name}")
        if known is None:
            raise JoinRefused(401, f"spoke {name} is no longer registered; it needs a join token")
        return Verdict(approved=known.approved, rotation=True)
    if proof.kind == "join" and proof.spoke != name:
        raise JoinRefused(
            403, f"this join token is for spoke {proof.spoke}; it cannot register {name}"
        )
    if live(known, now, lease_seconds):
        assert known is not None
        age = max(now - known.last_heartbeat, 0.0)
        raise JoinRefused(
            409,
            f"spoke {name} is live (last heartbeat {age:.1f}s ago): re-registering it needs its "
            f"own credential. If its agent is gone, wait until its lease runs out "
            f"({max(lease_seconds - age, 0.0):.1f}s) or remove it (`kindfleet spokes remove "
            f"{name}`)",
        )
    if proof.kind == "fleet" and known is not None:
        # Its lease ran out (an agent restarting, a node rebooting), and the name is still a
        # spoke's. Approved: a new credential would lock that spoke out when it returns.
        # Awaiting approval: an operator approves a name, having seen the spoke that took it;
        # a newcomer in its place would be the one approved.
        why = (
            "its agent would be locked out when it returns"
            if known.approved
            else "an operator's approval of the name would approve this registration instead"
        )
        state = "approved" if known.approved else "awaiting approval"
        raise JoinRefused(
            409,
            f"spoke {name} is registered ({state}): the fleet token cannot take its name "
            f"({why}). Give it a join token (`kindfleet spokes token {name}`) or remove it "
            f"first (`kindfleet spokes remove {name}`)",
        )
    return Verdict(approved=proof.kind == "join", rotation=False)
