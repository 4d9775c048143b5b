"""Telemetry points: numbers from spokes, kept for a while and queried by workload or spoke."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, select

from kindfleet.platform.store.schema import telemetry
from kindfleet.platform.store.workloads import insert_values

T = telemetry.c


def insert(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    insert_values(conn, telemetry, rows)


def query(
    conn: Connection,
    *,
    workload: str | None,
    spoke: str | None,
    since: float | None,
    limit: int,
) -> list[Row[Any]]:
    """Points in time order: the first `limit` after `since`, or else the latest `limit`."""
    stmt = select(telemetry).limit(limit)
    if workload is not None:
        stmt = stmt.where(T.workload == workload)
    if spoke is not None:
        stmt = stmt.where(T.spoke == spoke)
    if since is not None:
        return list(conn.execute(stmt.where(T.at > since).order_by(T.at, T.id)).all())
    rows = conn.execute(stmt.order_by(T.at.desc(), T.id.desc())).all()
    return list(rows[::-1])


def prune(conn: Connection, before: float) -> int:
    result = conn.execute(delete(telemetry).where(T.at < before))
    return int(result.rowcount or 0)
