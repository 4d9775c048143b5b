"""Who may call a route: FastAPI dependencies over the service's token table.

Each route declares the kind of caller it takes (`Client`, `Joining`, `Spoke`); the
check runs before the body is read, so an anonymous caller learns nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kindfleet.platform.hub.api import queries
from kindfleet.platform.hub.api.bodies import once
from kindfleet.platform.hub.service import tokens
from kindfleet.platform.hub.service.hub_service import HubService
from kindfleet.platform.hub.service.refusals import Unauthorized
from kindfleet.platform.hub.service.tokens import Principal
from kindfleet.platform.wire import STORE_HEADER


async def _who(request: Request) -> Principal:
    """The caller of one Authorization header: two were read as the first (the client's
    token, then anything, was the client)."""
    hub: HubService = request.app.state.hub
    return hub.identify(once(request, "Authorization", _unauthorized))


def _unauthorized(name: str, why: str) -> Unauthorized:
    return Unauthorized(f"{name}: {why}")


async def _same_store(request: Request) -> None:
    """Before any token is looked at: a spoke that remembers another store is told so
    (its tokens would be unknown here anyway, and the reason matters more)."""
    hub: HubService = request.app.state.hub
    hub.same_store(request.headers.get(STORE_HEADER))


async def _client(request: Request, p: Annotated[Principal, Depends(_who)]) -> Principal:
    tokens.require_client(p)
    queries.check(request)
    return p


async def _joining(request: Request, p: Annotated[Principal, Depends(_who)]) -> Principal:
    tokens.require_joining(p)
    queries.check(request)
    return p


async def _spoke(name: str, request: Request, p: Annotated[Principal, Depends(_who)]) -> Principal:
    tokens.require_spoke(p, name)
    queries.check(request)
    return p


Client = Annotated[Principal, Depends(_client)]
Joining = Annotated[Principal, Depends(_joining)]
Spoke = Annotated[Principal, Depends(_spoke)]
SameStore = Annotated[None, Depends(_same_store)]
