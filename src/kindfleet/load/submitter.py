"""`kindfleet load`'s submissions: many requests in flight from one event loop.

The first version ran C threads, each with the synchronous `HubClient`: about 4.5 ms of
the command's CPU per submission (httpx2 in threads, a pydantic model of every answer,
all under one GIL), so the command could not submit much above 200 a second whatever the
hub took, and the end-to-end figure of issue 17 measured the load client. Here one loop
drives C keep-alive connections (aiohttp, as the agent's hub client does), the body is
written once, and of each answer only the workload's id is read.

It keeps the client's contract: every submission has its own idempotency key and is sent
again with the same key after a failed connection or a timeout (the hub answers a retry
with the original), a refusal is the error `HubClient` would raise (`error_of`), and an
https hub is verified as `HubClient` verifies it. Unlike `HubClient` it reads no proxy
from the environment, as the agent reads none: aiohttp looks for one (and parses
~/.netrc) on a thread for every request, which cost more than the request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from kindfleet.platform.client import RETRIES, error_of, tls_context
from kindfleet.platform.wire import API_PREFIX

# What a submission came to: the workload's id, or the name of the error it ended with
# (`HubUnavailable`, `InvalidRequest`, ...), and its latency in milliseconds.
Done = Callable[[int, str | None, str | None, float], None]


@dataclass(frozen=True)
class Plan:
    requests: int
    concurrency: int
    key: Callable[[int], str]  # the idempotency key of submission i
    began: float  # time.monotonic() the rate and the duration count from
    rate: float | None = None  # submissions per second at most
    stop_at: float | None = None  # time.monotonic() after which nothing more is sent
    timeout: float = 60.0


async def submit_all(url: str, token: str, body: bytes, plan: Plan, done: Done) -> None:
    """Send `plan.requests` submissions of `body` with `plan.concurrency` in flight; call
    `done` for each one sent (one not sent because the duration ran out is not)."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    target = url.rstrip("/") + f"{API_PREFIX}/workloads"
    connector = aiohttp.TCPConnector(limit=plan.concurrency, ssl=tls_context())
    timeout = aiohttp.ClientTimeout(total=plan.timeout)
    async with aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=timeout, trust_env=False
    ) as session:
        order = iter(range(plan.requests))

        async def worker() -> None:
            for i in order:
                now = time.monotonic()
                if plan.stop_at is not None and now > plan.stop_at:
                    return
                if plan.rate and (wait := plan.began + i / plan.rate - now) > 0:
                    await asyncio.sleep(wait)
                started = time.perf_counter()
                workload, error = await _submit(session, target, body, plan.key(i))
                done(i, workload, error, (time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(plan.concurrency)))


async def _submit(
    session: aiohttp.ClientSession, target: str, body: bytes, key: str
) -> tuple[str | None, str | None]:
    """(workload id, None) or (None, the error's name), after `RETRIES` tries at most."""
    for attempt in range(RETRIES):
        try:
            async with session.post(
                target, data=body, headers={"Idempotency-Key": key}, allow_redirects=False
            ) as response:
                answer = await response.read()
                if response.status >= 400:
                    error = error_of(response.status, answer, response.reason or "")
                    return None, type(error).__name__
                workload = _workload_id(answer)
                return (workload, None) if workload else (None, "HubRequestError")
        except (TimeoutError, aiohttp.ClientError) as exc:
            if isinstance(exc, aiohttp.ClientSSLError) or attempt + 1 == RETRIES:
                return None, "HubUnavailable"
            await asyncio.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _workload_id(answer: bytes) -> str | None:
    try:
        workload = json.loads(answer)["workload"]["id"]
    except (ValueError, KeyError, TypeError):
        return None
    return workload if isinstance(workload, str) else None
