"""The spoke's side of the protocol (docs/platform.md), and the only module of the agent
that speaks HTTP. Every call is one request with a timeout; failures are sorted into what
the caller should do: `HubUnavailable` (retry later, keep working), `HubUnauthorized`
(register again), `HubRefused` (the hub rejected the request itself; a contract problem).

Tokens travel only in the Authorization header and are never part of an exception message,
a repr or a log line.
"""

from __future__ import annotations

import json
from typing import TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from kindfleet.platform.wire import (
    API_PREFIX,
    STORE_HEADER,
    AssignmentBatch,
    EventAck,
    EventBatch,
    HeartbeatRequest,
    HeartbeatResponse,
    RegisterRequest,
    RegisterResponse,
)

M = TypeVar("M", bound=BaseModel)


class HubError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HubUnavailable(HubError):
    """No usable answer: refused connection, timeout, 5xx, 429, or a body we cannot read."""


class HubUnauthorized(HubError):
    """401/403: the token is not (or no longer) valid for this call."""


class HubRefused(HubError):
    """Another 4xx: the hub understood the request and will not take it."""


class HubRetired(HubError):
    """410: the hub took this spoke's credential back (an operator removed the spoke, or
    another agent registered its name): the work it held has moved elsewhere."""


class HubClient:
    """One aiohttp session per agent. Not httpx2, which the user client uses: a request cost
    the agent 1.7-1.9 ms of CPU through httpx2 (over anyio) against 0.43 ms through aiohttp
    on the 2-core machine, and an agent makes one for every few runs it reports. aiohttp
    is already the agent's (kubernetes-asyncio's transport). An https:// hub is verified
    with the system's CA (SSL_CERT_FILE honoured); no redirect is followed and no proxy is
    read from the environment."""

    def __init__(self, hub_url: str, *, request_timeout: float = 10.0) -> None:
        self.request_timeout = request_timeout
        self._base = hub_url.rstrip("/") + API_PREFIX
        self._session: aiohttp.ClientSession | None = None  # made in the running loop

    async def register(
        self, bootstrap_token: str, request: RegisterRequest, *, store: str | None = None
    ) -> RegisterResponse:
        return await self._call(
            "POST",
            "/spokes/register",
            bootstrap_token,
            RegisterResponse,
            request,
            headers={STORE_HEADER: store} if store else None,
        )

    async def heartbeat(
        self, spoke: str, credential: str, request: HeartbeatRequest
    ) -> HeartbeatResponse:
        return await self._call(
            "POST", f"/spokes/{spoke}/heartbeat", credential, HeartbeatResponse, request
        )

    async def assignments(self, spoke: str, credential: str, *, wait: float) -> AssignmentBatch:
        return await self._call(
            "GET",
            f"/spokes/{spoke}/assignments",
            credential,
            AssignmentBatch,
            params={"wait": f"{wait:g}"},
            timeout=wait + self.request_timeout,  # the long poll outlives its wait
        )

    async def post_events(self, spoke: str, credential: str, batch: EventBatch) -> EventAck:
        return await self._call("POST", f"/spokes/{spoke}/events", credential, EventAck, batch)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(
        self,
        method: str,
        path: str,
        token: str,
        model: type[M],
        body: BaseModel | None = None,
        *,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> M:
        headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "kindfleet-agent"}, trust_env=False
            )
        try:
            async with self._session.request(
                method,
                self._base + path,
                data=body.model_dump_json().encode() if body is not None else None,
                headers=headers,
                params=params,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout or self.request_timeout),
            ) as response:
                status, content = response.status, await response.read()
        except TimeoutError:
            raise HubUnavailable(f"{method} {path}: no answer in time") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise HubUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        return _parse(method, path, status, content, model)


def _parse(method: str, path: str, status: int, content: bytes, model: type[M]) -> M:
    where = f"{method} {path}: HTTP {status}"
    if status in (401, 403):
        raise HubUnauthorized(where, status=status)
    if status == 429 or status >= 500:
        raise HubUnavailable(where, status=status)
    if status == 410:
        raise HubRetired(_detail(content), status=status)
    if status >= 400:
        raise HubRefused(f"{where}: {_detail(content)}", status=status)
    try:
        return model.model_validate_json(content)
    except ValidationError:
        raise HubUnavailable(f"{where}: the answer is not a {model.__name__}") from None


def _detail(content: bytes) -> str:
    try:
        data = json.loads(content)
    except ValueError:
        return content[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        return str(data.get("detail") or data.get("title") or data.get("errors") or "")[:500]
    return ""
