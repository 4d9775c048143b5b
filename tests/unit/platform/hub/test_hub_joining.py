"""The join rules (hub/rules/joining.py), every proof against every state of the name."""

from __future__ import annotations

import pytest

from kindfleet.platform.hub.rules.joining import JoinRefused, Known, Proof, decide

LEASE = 6.0
NOW = 1000.0
STATES = {
    "new": None,
    "live, approved": Known(last_heartbeat=NOW - 1, approved=True),
    "live, awaiting approval": Known(last_heartbeat=NOW - 1, approved=False),
    "lease run out, approved": Known(last_heartbeat=NOW - 60, approved=True),
    "lease run out, awaiting approval": Known(last_heartbeat=NOW - 60, approved=False),
}
PROOFS = {
    "its own credential": Proof("credential", "s1"),
    "another spoke's credential": Proof("credential", "s2"),
    "its join token": Proof("join", "s1"),
    "another name's join token": Proof("join", "s2"),
    "the fleet token": Proof("fleet"),
}
# (proof, state) -> (approved, rotation), or the status it is refused with
EXPECTED: dict[tuple[str, str], tuple[bool, bool] | int] = {
    ("its own credential", "new"): 401,
    ("its own credential", "live, approved"): (True, True),
    ("its own credential", "live, awaiting approval"): (False, True),
    ("its own credential", "lease run out, approved"): (True, True),
    ("its own credential", "lease run out, awaiting approval"): (False, True),
    **{("another spoke's credential", s): 403 for s in STATES},
    **{("another name's join token", s): 403 for s in STATES},
    ("its join token", "new"): (True, False),
    ("its join token", "live, approved"): 409,
    ("its join token", "live, awaiting approval"): 409,
    ("its join token", "lease run out, approved"): (True, False),
    ("its join token", "lease run out, awaiting approval"): (True, False),
    ("the fleet token", "new"): (False, False),
    ("the fleet token", "live, approved"): 409,
    ("the fleet token", "live, awaiting approval"): 409,
    # Found from outside: a stranger with the fleet token took a join-token spoke's name once
    # its lease ran out; the spoke's credential was replaced and its agent locked out.
    ("the fleet token", "lease run out, approved"): 409,
    # Found from outside: a stranger with the fleet token took a pending spoke's name once its
    # lease ran out, and the operator's approval of that name approved the stranger.
    ("the fleet token", "lease run out, awaiting approval"): 409,
}


def test_the_table_covers_every_case() -> None:
    assert set(EXPECTED) == {(p, s) for p in PROOFS for s in STATES}


@pytest.mark.parametrize(("proof", "state"), sorted(EXPECTED))
def test_a_registration_is_decided_by_the_rules(proof: str, state: str) -> None:
    expected = EXPECTED[(proof, state)]
    if isinstance(expected, int):
        with pytest.raises(JoinRefused) as refused:
            decide(PROOFS[proof], "s1", STATES[state], NOW, LEASE)
        assert refused.value.status == expected
        assert "s1" in refused.value.message  # says which name, and what to do
    else:
        verdict = decide(PROOFS[proof], "s1", STATES[state], NOW, LEASE)
        assert (verdict.approved, verdict.rotation) == expected


@pytest.mark.parametrize(
    ("state", "why"),
    [
        ("lease run out, approved", "would be locked out"),
        ("lease run out, awaiting approval", "would approve this registration instead"),
    ],
)
def test_the_fleet_token_refused_a_held_name_is_told_why_and_the_way_in(state, why) -> None:
    with pytest.raises(JoinRefused) as refused:
        decide(PROOFS["the fleet token"], "s1", STATES[state], NOW, LEASE)
    assert why in refused.value.message
    assert "`kindfleet spokes token s1`" in refused.value.message
    assert "`kindfleet spokes remove s1`" in refused.value.message


@pytest.mark.parametrize("state", sorted(s for s in STATES if STATES[s] is not None))
def test_the_fleet_token_with_the_names_own_credential_is_the_spokes_own_retry(state: str):
    """Found from outside: an agent that joined with the fleet token and lost its answer
    while it was approved was refused for good, though the credential it held worked."""
    known = STATES[state]
    assert known is not None
    verdict = decide(PROOFS["the fleet token"], "s1", known, NOW, LEASE, own_credential=True)
    assert (verdict.approved, verdict.rotation) == (known.approved, True)
