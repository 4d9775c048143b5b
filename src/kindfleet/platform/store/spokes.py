"""Spoke queries: registration, leases, health and the per-spoke event high-water mark."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Update, bindparam, delete, select, update

from kindfleet.platform.store.schema import retired_credentials, spokes

S = spokes.c
R = retired_credentials.c
# A retired credential is remembered this long: an agent cut off for longer is told only
# that its credential is not valid (401).
RETIRED_KEEP_SECONDS = 90 * 86400

# Built once (see workloads.py): every report, heartbeat and pass reads a spoke.
_get = select(spokes).where(S.name == bindparam("_name"))
_all = select(spokes).order_by(S.name)


def get(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(_get, {"_name": name}).first()


def all_spokes(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(_all).all())


def upsert(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert a spoke, or replace every column of an existing one (re-registration)."""
    name = values["name"]
    if get(conn, name) is None:
        conn.execute(spokes.insert(), dict(values))
    else:
        conn.execute(update(spokes).where(S.name == name).values(dict(values)))


def change(conn: Connection, name: str, **values: Any) -> None:
    conn.execute(_change(frozenset(values)), {"_name": name, **values})


@functools.cache
def _change(columns: frozenset[str]) -> Update:
    """The UPDATE of these columns, built once per set of columns (a handful: the high-water
    mark, the lease, health)."""
    return (
        update(spokes)
        .where(S.name == bindparam("_name"))
        .values({column: bindparam(column) for column in columns})
    )


def set_health(conn: Connection, changes: Mapping[str, str]) -> None:
    if changes:
        stmt = update(spokes).where(S.name == bindparam("_name")).values(health=bindparam("h"))
        conn.execute(stmt, [{"_name": name, "h": health} for name, health in changes.items()])


def credentials(conn: Connection) -> list[tuple[str, str]]:
    """(name, credential hash) of every spoke, for the hub's in-memory auth table."""
    return [(row[0], row[1]) for row in conn.execute(select(S.name, S.credential_hash))]


def names(conn: Connection, wanted: Sequence[str]) -> set[str]:
    return {row[0] for row in conn.execute(select(S.name).where(S.name.in_(list(wanted))))}


def remove(conn: Connection, name: str) -> bool:
    return bool(conn.execute(delete(spokes).where(S.name == name)).rowcount)


def retire(conn: Connection, credential_hash: str, spoke: str, why: str, now: float) -> None:
    """Remember a credential the hub took back (and forget those retired long ago)."""
    conn.execute(delete(retired_credentials).where(R.retired_at < now - RETIRED_KEEP_SECONDS))
    unretire(conn, credential_hash)
    conn.execute(
        retired_credentials.insert(),
        {"credential_hash": credential_hash, "spoke": spoke, "why": why, "retired_at": now},
    )


def unretire(conn: Connection, credential_hash: str) -> None:
    """A credential in use again (chosen anew by a registration) is no longer retired."""
    conn.execute(delete(retired_credentials).where(R.credential_hash == credential_hash))


def retired(conn: Connection) -> list[tuple[str, str, str]]:
    """(credential hash, spoke, why) of every retired credential remembered."""
    rows = conn.execute(select(R.credential_hash, R.spoke, R.why))
    return [(str(h), str(s), str(w)) for h, s, w in rows]


def retired_why(conn: Connection, credential_hash: str) -> str | None:
    """Why this credential was taken back (`removed`, `replaced`), if it was."""
    row = conn.execute(select(R.why).where(R.credential_hash == credential_hash)).first()
    return None if row is None else str(row[0])
