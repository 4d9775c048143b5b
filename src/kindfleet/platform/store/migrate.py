"""Bringing an older store up to this hub's schema, in the transaction that checks it.

Schema 1 -> 2: spokes gain `approved`, `draining` and `established`; workloads gain
`selector` (the spec's selector as canonical JSON), filled in from the stored specs.
Schema 2 -> 3: SQLite writes a new workload's labels itself (`LABELS_TRIGGER`).
Schema 3 -> 4: a PostgreSQL store made by schema 3's first code has such a trigger too,
which parses the whole spec (refused in a database not in UTF8) and now doubles the hub's
own insert of the labels: it is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Connection, select, update

from kindfleet.platform.store.schema import LABELS_TRIGGER, SCHEMA_VERSION, workloads

W = workloads.c
_CHUNK = 1000


def from_1(conn: Connection) -> None:
    yes, no = ("1", "0") if conn.dialect.name == "sqlite" else ("TRUE", "FALSE")
    for column, default in (("approved", yes), ("draining", no), ("established", no)):
        conn.exec_driver_sql(
            f"ALTER TABLE kf_spokes ADD COLUMN {column} BOOLEAN NOT NULL DEFAULT {default}"
        )
    conn.exec_driver_sql("ALTER TABLE kf_workloads ADD COLUMN selector TEXT NOT NULL DEFAULT '{}'")
    after = 0
    while True:
        rows = conn.execute(
            select(W.seq, W.spec).where(W.seq > after).order_by(W.seq).limit(_CHUNK)
        ).all()
        if not rows:
            return
        for seq, spec in rows:
            selector = json.loads(spec).get("selector") or {}
            text = json.dumps(selector, sort_keys=True, separators=(",", ":"))
            conn.execute(update(workloads).where(W.seq == seq).values(selector=text))
        after = rows[-1][0]


def triggers(conn: Connection) -> None:
    """What the database does by itself (schema 3), for new tables or old ones."""
    for statement in LABELS_TRIGGER.get(conn.dialect.name, []):
        conn.exec_driver_sql(statement)


from_2 = triggers


def from_3(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS kf_workload_labels_fill ON kf_workloads")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS kf_workload_labels_fill()")


# Each step takes a store from the version it is keyed by to the next one.
STEPS: dict[str, Callable[[Connection], None]] = {"1": from_1, "2": from_2, "3": from_3}


def upgrade(conn: Connection, found: str) -> None:
    """From schema `found` (a key of STEPS) to this hub's, step after step."""
    version = found
    while version != SCHEMA_VERSION:
        STEPS[version](conn)
        version = str(int(version) + 1)
