"""Connections that cannot stall the hub: uvicorn's HTTP protocol, with deadlines.

uvicorn closes a keep-alive connection that stays idle after an answer, and that is all:
a client that connects and sends half a header, or promises a body and never sends it,
holds its connection (and a file descriptor) for ever. This protocol adds what a server
facing strangers needs, on uvicorn's own extension point (`Config(http=...)`):

- the request head must arrive within `header_timeout` of the connection opening (or of
  its first byte, on a kept-alive connection), and be at most `MAX_HEAD` bytes (431
  beyond: httptools took a 64 MiB header from anyone, and six at once held 400 MB);
- its body within `body_timeout` of the end of the head;
- an idle kept-alive connection is closed after `keep_alive` (uvicorn's own timer);
- beyond `max_connections` open at once, a new connection is closed at once.

And one thing for speed: uvicorn writes an answer's head and its body as two writes, two
`send` calls, each a trip through the kernel's TCP stack that wakes the client; on the
submission path that was a fifth of the hub's time. What a connection writes in one turn of
the loop leaves as one `writev` at its end (`Coalesced`).

Why not another server: granian and hypercorn bound header reads too, but granian runs
the app in worker processes of its own (the hub's store writer, scheduler and port file
live in this one), and hypercorn's pure-Python HTTP/1 costs the submission path a good
part of its throughput. uvicorn with httptools plus these ~80 lines keeps both.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("kindfleet.hub")


MAX_HEAD = 64 * 1024  # a request's line and headers; nginx's default is 32 KiB
TOO_LARGE = b"the request's line and headers are larger than %d bytes" % MAX_HEAD


class Limits:
    header_timeout = 10.0
    body_timeout = 60.0
    max_connections = 1024
    refused = 0  # connections closed because too many were open
    timed_out = 0  # connections closed because a head or a body came too slowly
    too_large = 0  # connections closed because a head was larger than MAX_HEAD


def guarded(header_timeout: float, body_timeout: float, max_connections: int) -> type[Any]:
    """The protocol class to give uvicorn, with these limits."""

    class Bounded(GuardedProtocol):
        limits = type(
            "BoundedLimits",
            (Limits,),
            {
                "header_timeout": header_timeout,
                "body_timeout": body_timeout,
                "max_connections": max_connections,
            },
        )

    return Bounded


class Coalesced:
    """A connection's transport whose writes of one loop turn leave together at its end.

    Order is kept (every write of the connection goes through here), `close` sends what is
    held first, `abort` drops it; beyond `HOLD` bytes held the writes leave at once, so a
    body streamed without a pause meets the transport's flow control as before.
    """

    HOLD = 64 * 1024

    def __init__(self, raw: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._raw = raw
        self._loop = loop
        self._held: list[bytes] = []
        self._size = 0
        self._lost = False

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)
        self._size += len(data)
        if self._size > self.HOLD:
            self.flush()

    def writelines(self, lines: list[bytes]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        held, self._held, self._size = self._held, [], 0
        if held and not self._lost:
            self._raw.writelines(held)

    def lost(self) -> None:
        """The connection is gone: nothing held can leave any more."""
        self._lost = True
        self._held, self._size = [], 0

    def close(self) -> None:
        self.flush()
        self._raw.close()

    def write_eof(self) -> None:
        self.flush()
        self._raw.write_eof()

    def abort(self) -> None:
        self._held, self._size = [], 0
        self._raw.abort()

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size() + self._size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class GuardedProtocol(HttpToolsProtocol):
    limits: type[Limits] = Limits

    _deadline: asyncio.TimerHandle | None = None
    _reading = False  # between the first byte of a request and the end of its body
    _head = 0  # bytes received of the request's head so far; -1 once it is whole
    _half_closed = False  # the client shut its side after a request: close once answered

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.limits.refused += 1
            transport.abort()
            return
        self.transport = Coalesced(transport, self.loop)  # type: ignore[assignment]
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if isinstance(self.transport, Coalesced):
            self.transport.lost()
        super().connection_lost(exc)

    def eof_received(self) -> bool | None:  # type: ignore[override]
        # The client has shut its side after its request (`nc -N`, a script's half-close):
        # it still waits for the answer. The transport is kept open for it (True) and
        # closed once it is sent; uvicorn's own answer (None) closed it at once, and an
        # answer not yet written then (a read on another thread) was never sent. A request
        # still coming in (its body cut short) ends as before.
        if isinstance(self.transport, Coalesced):
            self.transport.flush()
        if self.cycle is not None and not self.cycle.response_complete and not self._reading:
            self._half_closed = True
            return True
        return super().eof_received()

    def data_received(self, data: bytes) -> None:
        if not self._reading:
            self._reading = True
            self._head = 0
            if self._deadline is None:  # kept alive: the head's time starts now
                self._arm(self.limits.header_timeout)
        if self._head >= 0:
            self._head += len(data)
        super().data_received(data)
        if self._head > MAX_HEAD and not self.transport.is_closing():
            self._head = -1
            self.limits.too_large += 1
            self._disarm()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(TOO_LARGE), TOO_LARGE)
            )
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._head = -1
        if self._upgrade_with_body():
            # The parser stops at an Upgrade (h2c here): the body would never be read, and
            # the request was answered as if it had none ("not valid JSON: EOF").
            self.send_400_response(
                "Upgrade is not supported with a request body: send the request as plain "
                "HTTP/1.1, without Upgrade (curl: --http1.1)"
            )
            return
        super().on_headers_complete()
        if self._reading:
            self._arm(self.limits.body_timeout)

    def _upgrade_with_body(self) -> bool:
        upgrade = self._get_upgrade()
        if upgrade is None or (upgrade == b"websocket" and self._should_upgrade_to_ws()):
            return False
        sized = dict(self.headers).get(b"content-length", b"0").strip() not in (b"", b"0")
        return sized or any(name == b"transfer-encoding" for name, _ in self.headers)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = False
        self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._half_closed and (self.cycle is None or self.cycle.response_complete):
            self.transport.close()  # the client sends nothing more: its answers are out
            return
        if not self._reading and self.timeout_keep_alive_task is None:
            self._arm(self.limits.header_timeout)  # a pipelined request is already running

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport is None or self.transport.is_closing():
            return
        if not self._reading and self.cycle is not None and not self.cycle.response_complete:
            return  # the hub is answering (a long-poll): not the client's fault
        self.limits.timed_out += 1
        self.transport.abort()
