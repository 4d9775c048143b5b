"""Who is calling: the client token, a join token, the fleet token, or one spoke's credential.

Tokens are held only as sha256 digests (the spokes' and join tokens' in the store too) and
compared in constant time. Client, fleet and spoke tokens are in memory so that no request
waits on the store to be authenticated; the hub rebuilds the table from the store at start
and updates it after every commit that changes a credential. A join token is recognised by
its form here and checked against the store by the registration itself (it is single use).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from kindfleet.platform.hub.rules import joining
from kindfleet.platform.hub.service.refusals import Forbidden, Gone, Unauthorized

Kind = Literal["client", "fleet", "join", "spoke"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Kind
    spoke: str | None = None  # a spoke credential's owner
    token_id: str | None = None  # a join token's public id
    digest: str | None = None  # a join token's or spoke credential's sha256

    def proof(self, bound_to: str | None = None) -> joining.Proof:
        if self.kind == "spoke":
            return joining.Proof("credential", self.spoke)
        if self.kind == "join":
            return joining.Proof("join", bound_to)
        return joining.Proof("fleet")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_credential() -> str:
    return secrets.token_urlsafe(32)


def new_join_token() -> tuple[str, str]:
    """(public id, whole token): `kfjoin.<12 hex>.<43 url-safe characters>`."""
    ident = secrets.token_hex(joining.TOKEN_ID_LENGTH // 2)
    return ident, f"{joining.TOKEN_PREFIX}.{ident}.{secrets.token_urlsafe(32)}"


class Tokens:
    def __init__(self, client_token: str, fleet_token: str | None = None) -> None:
        self._client = token_hash(client_token)
        self._fleet = token_hash(fleet_token) if fleet_token else None
        self._spoke_by_hash: dict[str, str] = {}
        self._hash_by_spoke: dict[str, str] = {}
        self._taking: dict[str, str] = {}  # digest -> spoke, registrations on their way
        self._retired: dict[str, tuple[str, str]] = {}  # digest -> (spoke, why)

    def set_spoke(self, name: str, digest: str) -> None:
        """Install a spoke's credential; the previous one stops working at once."""
        self.drop_spoke(name)
        self._retired.pop(digest, None)
        self._hash_by_spoke[name] = digest
        self._spoke_by_hash[digest] = name

    def retire(self, digest: str, name: str, why: str) -> None:
        """A credential taken back (`removed`, `replaced`): its holder is told so (410)."""
        if self._spoke_by_hash.get(digest) == name:
            self.drop_spoke(name)
        self._retired[digest] = (name, why)

    def set_retired(self, retired: Iterable[tuple[str, str, str]]) -> None:
        """Every retired credential as the store has them: (digest, spoke, why)."""
        self._retired = {digest: (name, why) for digest, name, why in retired}

    def set_spokes(self, credentials: Iterable[tuple[str, str]]) -> None:
        """Every spoke's credential as the store has them; any other spoke's is dropped."""
        wanted = dict(credentials)
        for name in [n for n in self._hash_by_spoke if n not in wanted]:
            self.drop_spoke(name)
        for name, digest in wanted.items():
            if self._hash_by_spoke.get(name) != digest:
                self.set_spoke(name, digest)

    def drop_spoke(self, name: str) -> None:
        old = self._hash_by_spoke.pop(name, None)
        if old is not None:
            self._spoke_by_hash.pop(old, None)

    def taken(self, digest: str, spoke: str) -> bool:
        """A digest `spoke`'s new credential may not have: another spoke's credential, the
        client's or the fleet's token (a rotation to one of them made it `spoke`'s, and
        locked its owner out for good), or one another registration is taking now; but
        `spoke`'s own current one."""
        owner = self._spoke_by_hash.get(digest)
        taking = self._taking.get(digest)
        return (
            (owner is not None and owner != spoke)
            or (taking is not None and taking != spoke)
            or digest in (self._client, self._fleet)
        )

    def reserve(self, digest: str, spoke: str) -> bool:
        """Hold `digest` for `spoke` while its registration commits (False: taken): two
        registrations choosing one credential at once both passed `taken`, and the second
        to commit took it from the first."""
        if self.taken(digest, spoke):
            return False
        self._taking[digest] = spoke
        return True

    def unreserve(self, digest: str, spoke: str) -> None:
        if self._taking.get(digest) == spoke:
            del self._taking[digest]

    def identify(self, authorization: str | None) -> Principal:
        token = bearer(authorization)
        digest = token_hash(token)
        if hmac.compare_digest(digest, self._client):
            return Principal("client")
        if self._fleet is not None and hmac.compare_digest(digest, self._fleet):
            return Principal("fleet")
        spoke = self._spoke_by_hash.get(digest)
        if spoke is not None and hmac.compare_digest(digest, self._hash_by_spoke[spoke]):
            return Principal("spoke", spoke, digest=digest)
        ident = joining.token_id(token)
        if ident is not None:
            return Principal("join", token_id=ident, digest=digest)
        retired = self._retired.get(digest)
        if retired is not None:
            raise Gone(retired_message(*retired))
        raise Unauthorized("the bearer token is not valid for this hub")


def retired_message(name: str, why: str) -> str:
    done = (
        "was removed by an operator"
        if why == "removed"
        else "was registered again by another agent"
    )
    return (
        f"spoke {name} {done}: this credential is no longer valid and the hub has moved the "
        f"work it held. Its agent stops what it runs; to join again it needs a new join "
        f"token (`kindfleet spokes token {name}`)"
    )


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
        raise Forbidden(f"a {_named(who)} may not call the workload and operator API")


def require_joining(who: Principal) -> None:
    if who.kind == "client":
        raise Forbidden(
            "registration needs a join token (kindfleet spokes token NAME) or the spoke's "
            "own credential, not the client token"
        )


def require_spoke(who: Principal, name: str) -> None:
    if who.kind != "spoke":
        raise Forbidden(f"only spoke {name}'s own credential may call this, not a {_named(who)}")
    if who.spoke != name:
        raise Forbidden(f"this credential belongs to another spoke, not to {name}")


def _named(who: Principal) -> str:
    return {
        "client": "client token",
        "fleet": "fleet token",
        "join": "join token",
        "spoke": "spoke credential",
    }[who.kind]
