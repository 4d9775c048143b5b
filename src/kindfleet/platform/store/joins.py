"""Join tokens: minted for one spoke name, used once, kept as a hash until they expire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, delete, or_, select, update

from kindfleet.platform.store.schema import join_tokens

J = join_tokens.c


def insert(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(join_tokens.insert(), dict(values))


def get(conn: Connection, token_id: str) -> Row[Any] | None:
    return conn.execute(select(join_tokens).where(J.id == token_id)).first()


def spend(conn: Connection, token_id: str, now: float) -> bool:
    """Mark the token used; False when it was used already (it is single use)."""
    result = conn.execute(
        update(join_tokens).where(J.id == token_id, J.used_at.is_(None)).values(used_at=now)
    )
    return bool(result.rowcount)


def prune(conn: Connection, before: float) -> int:
    """Forget tokens that expired, or were used, before `before`."""
    result = conn.execute(delete(join_tokens).where(or_(J.expires_at < before, J.used_at < before)))
    return int(result.rowcount or 0)


def revoke(conn: Connection, spoke: str) -> int:
    """Drop the unused join tokens of a spoke (it was removed)."""
    result = conn.execute(delete(join_tokens).where(J.spoke == spoke, J.used_at.is_(None)))
    return int(result.rowcount or 0)
