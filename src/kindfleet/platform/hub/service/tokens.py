"""Who is calling: the client token, the bootstrap token, or one spoke's credential.

Tokens are held only as sha256 digests (the spokes' in the store too) and compared in
constant time. The table is in memory so that no request waits on the store to be
authenticated; the hub rebuilds it from the store at start and updates it on register.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from kindfleet.platform.hub.service.refusals import Forbidden, Unauthorized

Kind = Literal["client", "bootstrap", "spoke"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Kind
    spoke: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_credential() -> str:
    return secrets.token_urlsafe(32)


class Tokens:
    def __init__(self, client_token: str, bootstrap_token: str) -> None:
        self._client = token_hash(client_token)
        self._bootstrap = token_hash(bootstrap_token)
        self._spoke_by_hash: dict[str, str] = {}
        self._hash_by_spoke: dict[str, str] = {}

    def set_spoke(self, name: str, digest: str) -> None:
        """Install a spoke's credential; the previous one stops working at once."""
        old = self._hash_by_spoke.pop(name, None)
        if old is not None:
            self._spoke_by_hash.pop(old, None)
        self._hash_by_spoke[name] = digest
        self._spoke_by_hash[digest] = name

    def identify(self, authorization: str | None) -> Principal:
        token = bearer(authorization)
        digest = token_hash(token)
        if hmac.compare_digest(digest, self._client):
            return Principal("client")
        if hmac.compare_digest(digest, self._bootstrap):
            return Principal("bootstrap")
        spoke = self._spoke_by_hash.get(digest)
        if spoke is not None and hmac.compare_digest(digest, self._hash_by_spoke[spoke]):
            return Principal("spoke", spoke)
        raise Unauthorized("the bearer token is not valid for this hub")


def bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("malformed Authorization header; expected 'Bearer <token>'")
    return token


def require_client(who: Principal) -> None:
    if who.kind != "client":
        raise Forbidden(f"a {who.kind} token may not call the workload API")


def require_bootstrap(who: Principal) -> None:
    if who.kind != "bootstrap":
        raise Forbidden(f"registration needs the bootstrap token, not a {who.kind} token")


def require_spoke(who: Principal, name: str) -> None:
    if who.kind != "spoke":
        raise Forbidden(f"only spoke {name}'s own credential may call this, not a {who.kind} token")
    if who.spoke != name:
        raise Forbidden(f"this credential belongs to another spoke, not to {name}")
