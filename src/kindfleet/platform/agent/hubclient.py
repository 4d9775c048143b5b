"""The spoke's side of the protocol (docs/platform.md), and the only module of the agent
that speaks HTTP. Every call is one request with a timeout; failures are sorted into what
the caller should do: `HubUnavailable` (retry later, keep working), `HubUnauthorized`
(register again), `HubRefused` (the hub rejected the request itself; a contract problem).

Tokens travel only in the Authorization header and are never part of an exception message,
a repr or a log line.
"""

from __future__ import annotations

import ssl
from typing import TypeVar

import httpx2
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


def tls_context(hub_url: str) -> ssl.SSLContext | bool:
    """httpx's own verifying context for an https:// hub. For an http:// hub, a context
    that verifies as strictly but trusts no CA: nothing speaks TLS through it (this client
    follows no redirect and reads no proxy from the environment), and it spares every agent
    start httpx's loading of the CA bundle (70-130 ms of CPU on the 2-core machine)."""
    if hub_url.lower().startswith("https://"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class HubClient:
    def __init__(
        self,
        hub_url: str,
        *,
        request_timeout: float = 10.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.request_timeout = request_timeout
        self._http = httpx2.AsyncClient(
            base_url=hub_url.rstrip("/") + API_PREFIX,
            timeout=httpx2.Timeout(request_timeout),
            transport=transport,
            trust_env=False,
            headers={"User-Agent": "kindfleet-agent"},
            verify=tls_context(hub_url),
        )

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
            timeout=wait + self.request_timeout,
        )

    async def post_events(self, spoke: str, credential: str, batch: EventBatch) -> EventAck:
        return await self._call("POST", f"/spokes/{spoke}/events", credential, EventAck, batch)

    async def aclose(self) -> None:
        await self._http.aclose()

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
        try:
            response = await self._http.request(
                method,
                path,
                content=body.model_dump_json().encode() if body is not None else None,
                headers=headers,
                params=params,
                timeout=timeout if timeout is not None else httpx2.USE_CLIENT_DEFAULT,
            )
        except httpx2.TimeoutException:
            raise HubUnavailable(f"{method} {path}: no answer in time") from None
        except httpx2.TransportError as exc:
            raise HubUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        return _parse(method, path, response, model)


def _parse(method: str, path: str, response: httpx2.Response, model: type[M]) -> M:
    status = response.status_code
    where = f"{method} {path}: HTTP {status}"
    if status in (401, 403):
        raise HubUnauthorized(where, status=status)
    if status == 429 or status >= 500:
        raise HubUnavailable(where, status=status)
    if status >= 400:
        raise HubRefused(f"{where}: {_detail(response)}", status=status)
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise HubUnavailable(f"{where}: the answer is not a {model.__name__}") from None


def _detail(response: httpx2.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        return str(data.get("detail") or data.get("title") or data.get("errors") or "")[:500]
    return ""
