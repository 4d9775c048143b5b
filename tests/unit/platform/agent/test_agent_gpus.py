"""The GPU allocator: ids 0..n-1, lowest first, never shared by two owners."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kindfleet.platform.agent.gpus import GpuPool


def test_hands_out_lowest_free_ids_and_takes_them_back():
    pool = GpuPool(4)
    assert pool.allocate("a", 2) == (0, 1)
    assert pool.allocate("b", 1) == (2,)
    pool.release("a")
    assert pool.free == 3
    assert pool.allocate("c", 3) == (0, 1, 3)
    assert pool.held_by("b") == (2,)


def test_too_few_free_takes_nothing():
    pool = GpuPool(2)
    assert pool.allocate("a", 1) == (0,)
    assert pool.allocate("b", 2) is None
    assert pool.free == 1
    assert pool.allocate("c", 0) == ()


def test_claim_is_all_or_nothing():
    pool = GpuPool(3)
    assert pool.allocate("a", 1) == (0,)
    assert not pool.claim("b", (1, 0))  # 0 belongs to a
    assert pool.held_by("b") == ()
    assert not pool.claim("b", (3,))  # out of range
    assert pool.claim("b", (2, 1))
    assert pool.held_by("b") == (1, 2)


def test_one_allocation_per_owner_and_no_negative_counts():
    pool = GpuPool(2)
    pool.allocate("a", 1)
    with pytest.raises(ValueError, match="already holds"):
        pool.allocate("a", 1)
    with pytest.raises(ValueError, match="negative"):
        GpuPool(-1)


class Exclusive(RuleBasedStateMachine):
    """Any sequence of allocations and releases: no id is ever held twice, counts add up."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = GpuPool(6)
        self.held: dict[str, tuple[int, ...]] = {}

    @rule(owner=st.sampled_from("abcdefgh"), count=st.integers(0, 4))
    def allocate(self, owner: str, count: int) -> None:
        if owner in self.held:
            return
        free_before = self.pool.free
        ids = self.pool.allocate(owner, count)
        if ids is None:
            assert count > free_before
        else:
            assert len(ids) == count
            self.held[owner] = ids

    @rule(owner=st.sampled_from("abcdefgh"))
    def release(self, owner: str) -> None:
        self.pool.release(owner)
        self.held.pop(owner, None)

    @invariant()
    def never_shared(self) -> None:
        every = [i for ids in self.held.values() for i in ids]
        assert len(every) == len(set(every))
        assert all(0 <= i < 6 for i in every)
        assert self.pool.free == 6 - len(every)
        for owner, ids in self.held.items():
            assert self.pool.held_by(owner) == tuple(sorted(ids))


TestExclusive = Exclusive.TestCase
