"""Read bodies kept on the loop: served again only while no transaction has ended since
they were read."""

import asyncio

import pytest

from kindfleet.platform.hub.service.bodies import Bodies


class Store:
    def __init__(self) -> None:
        self.transactions = 0
        self.value = b"v0"
        self.reads = 0
        self.gate = asyncio.Event()

    async def read(self) -> bytes:
        self.reads += 1
        return self.value

    async def slow_read(self) -> bytes:
        """A read that takes its snapshot at once and answers when the gate opens."""
        self.reads += 1
        body = self.value
        await self.gate.wait()
        return body

    async def until_read(self) -> None:
        while not self.reads:
            await asyncio.sleep(0)

    def write(self, value: bytes) -> None:
        self.value = value
        self.transactions += 1


async def test_a_body_is_served_again_until_any_transaction_ends():
    store = Store()
    bodies = Bodies(lambda: store.transactions)
    assert [await bodies.get("k", store.read) for _ in range(3)] == [b"v0"] * 3
    assert store.reads == 1
    store.write(b"v1")
    assert await bodies.get("k", store.read) == b"v1"
    assert await bodies.get("k", store.read) == b"v1"
    assert store.reads == 2


async def test_a_write_that_lands_during_the_read_is_never_hidden():
    """The read saw the old value, the write ended while it ran: the body is kept under
    the count from before the read, so the next request reads again and sees the write."""
    store = Store()
    bodies = Bodies(lambda: store.transactions)

    async def racing_read() -> bytes:
        body = await store.read()
        store.write(b"v1")  # committed after the snapshot was taken
        return body

    assert await bodies.get("k", racing_read) == b"v0"
    assert await bodies.get("k", store.read) == b"v1"


async def test_keys_are_apart_and_a_failed_read_keeps_nothing():
    store = Store()
    bodies = Bodies(lambda: store.transactions)

    async def failing() -> bytes:
        raise LookupError("no such workload")

    with pytest.raises(LookupError):
        await bodies.get("a", failing)
    assert await bodies.get("a", store.read) == b"v0"
    store.value = b"other"  # what "b" reads; no transaction: "a" stays kept
    assert await bodies.get("b", store.read) == b"other"
    assert await bodies.get("a", store.read) == b"v0"
    assert store.reads == 2


async def test_the_budget_bounds_what_is_kept_oldest_first():
    store = Store()
    bodies = Bodies(lambda: store.transactions, budget=10)
    for key, value in (("a", b"aaaa"), ("b", b"bbbb"), ("c", b"cccc")):
        store.value = value
        await bodies.get(key, store.read)
    assert store.reads == 3
    store.value = b"fresh"
    assert await bodies.get("a", store.read) == b"fresh"  # "a" was dropped for "c"
    assert await bodies.get("c", store.read) == b"cccc"  # still kept
    store.value = b"x" * 11  # larger than the whole budget: served, never kept
    assert await bodies.get("big", store.read) == b"x" * 11
    assert await bodies.get("big", store.read) == b"x" * 11
    assert store.reads == 6


async def test_requests_at_one_count_share_one_read_and_a_later_count_does_not_join_it():
    store = Store()
    bodies = Bodies(lambda: store.transactions)
    first = [asyncio.create_task(bodies.get("k", store.slow_read)) for _ in range(5)]
    await store.until_read()  # the read has taken its snapshot
    store.write(b"v1")  # a transaction ends while the read is under way
    later = asyncio.create_task(bodies.get("k", store.slow_read))
    await asyncio.sleep(0)
    store.gate.set()
    assert await asyncio.gather(*first) == [b"v0"] * 5
    assert await later == b"v1"
    assert store.reads == 2
    assert await bodies.get("k", store.read) == b"v1"  # kept under the later count
    assert store.reads == 2


async def test_a_reader_that_hangs_up_does_not_fail_the_others():
    store = Store()
    bodies = Bodies(lambda: store.transactions)
    starter = asyncio.create_task(bodies.get("k", store.slow_read))
    await store.until_read()
    joiner = asyncio.create_task(bodies.get("k", store.slow_read))
    await asyncio.sleep(0)
    starter.cancel()
    store.gate.set()
    assert await joiner == b"v0"
    assert store.reads == 1
