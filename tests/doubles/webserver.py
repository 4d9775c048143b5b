"""A real HTTP server on a free local port that answers every request with one handler:
for testing clients over the wire rather than through a mock transport."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from aiohttp import web


@contextlib.asynccontextmanager
async def serving(
    answer: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """The server's base URL (`http://127.0.0.1:PORT/`) while the block runs."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def serving_on_a_thread(
    answer: Callable[[web.Request], Awaitable[web.StreamResponse]],
    *,
    after: Callable[[], None] = lambda: None,
) -> Iterator[str]:
    """`serving`, in a loop on a thread of its own, for code under test that blocks (the
    synchronous clients): the base URL while the block runs; `after` once it has ended,
    still on the server's loop (before the server stops)."""
    loop = asyncio.new_event_loop()
    up, down = threading.Event(), asyncio.Event()
    url: list[str] = []

    async def main() -> None:
        async with serving(answer) as base:
            url.append(base)
            up.set()
            await down.wait()
            after()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),))
    thread.start()
    up.wait(10)
    try:
        yield url[0]
    finally:
        loop.call_soon_threadsafe(down.set)
        thread.join(30)
        loop.close()
