"""The hub's connections write what one turn of the loop produced as one `writev`, in
order, and never lose or reorder a byte on close or abort (`connections.Coalesced`)."""

from __future__ import annotations

import asyncio
from typing import Any

from kindfleet.platform.hub.api.connections import Coalesced


class Raw:
    """A transport that keeps what reaches it: the calls, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def writelines(self, lines: list[bytes]) -> None:
        self.calls.append(("writelines", [bytes(x) for x in lines]))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def abort(self) -> None:
        self.calls.append(("abort", None))
        self.closing = True

    def write_eof(self) -> None:
        self.calls.append(("write_eof", None))

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


def turns(body: Any) -> Raw:
    """Run `body(transport)` (a coroutine function) on a real loop, then one more turn."""
    raw = Raw()

    async def main() -> None:
        await body(Coalesced(raw, asyncio.get_running_loop()))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    return raw


def test_head_and_body_of_one_turn_leave_as_one_call_in_order() -> None:
    async def answer(t: Coalesced) -> None:
        t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        t.write(b"ok")

    assert turns(answer).calls == [
        ("writelines", [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"ok"])
    ]


def test_each_turn_leaves_on_its_own() -> None:
    async def stream(t: Coalesced) -> None:
        for chunk in (b"a", b"b", b"c"):
            t.write(chunk)
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    assert turns(stream).calls == [
        ("writelines", [b"a"]),
        ("writelines", [b"b"]),
        ("writelines", [b"c"]),
    ]


def test_close_sends_what_is_held_before_closing() -> None:
    async def last(t: Coalesced) -> None:
        t.write(b"head")
        t.writelines([b"bo", b"dy"])
        t.close()

    assert turns(last).calls == [("writelines", [b"head", b"bo", b"dy"]), ("close", None)]


def test_write_eof_sends_what_is_held_first() -> None:
    async def last(t: Coalesced) -> None:
        t.write(b"x")
        t.write_eof()

    assert turns(last).calls == [("writelines", [b"x"]), ("write_eof", None)]


def test_abort_drops_what_is_held() -> None:
    async def cut(t: Coalesced) -> None:
        t.write(b"never")
        t.abort()

    assert turns(cut).calls == [("abort", None)]


def test_a_large_body_leaves_at_once_and_whole() -> None:
    big = b"x" * (Coalesced.HOLD + 1)
    seen: list[list[tuple[str, Any]]] = []

    async def large(t: Coalesced) -> None:
        t.write(b"head")
        t.write(big)
        seen.append(list(t._raw.calls))  # type: ignore[attr-defined]
        t.write(b"tail")

    raw = turns(large)
    assert seen == [[("writelines", [b"head", big])]]  # before the turn ended
    assert raw.calls == [("writelines", [b"head", big]), ("writelines", [b"tail"])]


def test_what_is_held_counts_in_the_write_buffer_and_the_rest_is_the_transport() -> None:
    sizes: list[int] = []

    async def measure(t: Coalesced) -> None:
        t.write(b"12345")
        sizes.append(t.get_write_buffer_size())
        sizes.append(len(t.get_extra_info("peername")))

    turns(measure)
    assert sizes == [7 + 5, len("extra peername")]


def test_a_closing_transport_is_still_written_to_and_a_lost_one_is_not() -> None:
    """A transport that closes itself (the client's half-close) still sends what it is
    given; once the connection is lost, nothing held is written."""

    async def closing(t: Coalesced) -> None:
        t._raw.closing = True  # type: ignore[attr-defined]
        t.write(b"answer")

    raw = turns(closing)
    assert raw.calls == [("writelines", [b"answer"])]

    async def lost(t: Coalesced) -> None:
        t.write(b"never")
        t.lost()
        t.write(b"nor this")

    assert turns(lost).calls == []
