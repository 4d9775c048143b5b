"""The hub's connections write what one turn of the loop produced as one `writev`, in
order, and never lose or reorder a byte on close or abort (`connections.Coalesced`)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from kindfleet.platform.hub.api.connections import MAX_HEAD, Coalesced, guarded


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


# ----------------------------------------------------------- the guarded protocol itself


async def _plain_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class Wire(asyncio.Transport):
    """A connection's socket, as the protocol sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.out: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: Any) -> None:
        self.out.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        self.out.extend(bytes(x) for x in lines)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def _connected(header_timeout: float = 10.0) -> tuple[Any, Wire]:
    config = Config(_plain_app, lifespan="off", log_config=None,
                    http=guarded(header_timeout, 10.0, 10))  # fmt: skip
    config.load()
    protocol = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
    wire = Wire()
    protocol.connection_made(wire)
    return protocol, wire


async def test_a_head_past_its_bound_is_431_and_the_connection_closed() -> None:
    """Found from outside: a 64 MiB header, from anyone, was read whole (400 MB held by six
    at once)."""
    protocol, wire = _connected()
    protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    for _ in range(2):  # a head arriving in pieces
        protocol.data_received(b"a" * (MAX_HEAD // 2))
    assert wire.closed and not wire.aborted
    assert wire.out[0].startswith(b"HTTP/1.1 431 ")
    assert len(wire.out) == 1
    protocol.connection_lost(None)


async def test_a_head_within_its_bound_and_a_large_body_are_served() -> None:
    protocol, wire = _connected()
    body = b"x" * (4 * MAX_HEAD)
    protocol.data_received(
        b"POST /x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEAD - 200)
        + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )  # fmt: skip
    for _ in range(20):
        await asyncio.sleep(0)
    assert b"".join(wire.out).startswith(b"HTTP/1.1 200 ")
    assert not wire.aborted
    protocol.connection_lost(None)


async def test_the_head_is_due_from_the_connection_opening_not_its_first_byte() -> None:
    """A first byte sent just before the head's time was up gave it as long again."""
    protocol, wire = _connected(header_timeout=0.3)
    await asyncio.sleep(0.2)
    protocol.data_received(b"GET /healthz HTTP/1.1\r\n")  # ... and no more
    await asyncio.sleep(0.25)  # past the opening's 0.3 s, within 0.3 s of the first byte
    assert wire.aborted
    protocol.connection_lost(None)
