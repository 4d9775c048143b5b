"""The hub's tables, one definition for SQLite and PostgreSQL.

Times are seconds since the epoch (double precision): exact enough, portable, and cheap
to compare in both engines. Structured values a query never filters on (a workload's
spec, its attempts, a spoke's labels, telemetry metrics) are JSON text, not JSONB: text
takes any string a client sends (JSONB refuses `\\u0000`) and costs nothing to write.
What queries do filter on has its own column and index.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

# 2: join tokens, spoke approval/drain, workload selector column; 3: labels by trigger;
# 4: none on PostgreSQL (the one schema 3 made there is dropped)
SCHEMA_VERSION = "4"

metadata = MetaData()

# SQLite only makes INTEGER PRIMARY KEY an auto-incrementing rowid.
_Seq = BigInteger().with_variant(Integer(), "sqlite")
_Time = Float(precision=53)

meta = Table(
    "kf_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

workloads = Table(
    "kf_workloads",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("idem_hash", String(64), nullable=False, unique=True),  # sha256 of the key
    Column("spec_hash", String(64), nullable=False),
    Column("spec", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("cpu_millis", BigInteger, nullable=False),
    Column("memory_bytes", BigInteger, nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("generation", BigInteger, nullable=False, default=0),
    Column("spoke", String(63)),
    Column("retries_used", Integer, nullable=False, default=0),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("accepted", Boolean, nullable=False, default=False),
    Column("delivered_at", _Time),
    Column("cancel_delivered_at", _Time),
    Column("reason", Text),
    Column("message", Text),
    Column("attempts", Text, nullable=False, default="[]"),
    Column("submitted_at", _Time, nullable=False),
    Column("updated_at", _Time, nullable=False),
    Column("deadline_at", _Time),
    # The spec's selector as canonical JSON: the hub rebuilds its queue from columns alone.
    Column("selector", Text, nullable=False, default="{}"),
)
# The queue in placement order (priority desc, then submission), so a pass reads the head
# of the queue without sorting it; only Pending work has a deadline_at.
Index("kf_workloads_queue", workloads.c.state, workloads.c.priority.desc(), workloads.c.seq)
Index("kf_workloads_spoke", workloads.c.spoke, workloads.c.state)
Index("kf_workloads_deadline", workloads.c.deadline_at)

# One row per (workload, label): what `GET /workloads?label=k=v` filters on. On SQLite
# written by the database itself from each new workload's spec (`LABELS_TRIGGER`): one
# statement fewer in every submission's transaction, and there each statement the writer
# runs hands the GIL to the event loop and waits to get it back. Not on PostgreSQL, whose
# parse of the whole spec would refuse, anywhere in it, a character a database not in
# UTF8 cannot hold (the spec is stored as ASCII-escaped text and never parsed there).
workload_labels = Table(
    "kf_workload_labels",
    metadata,
    Column("key", String(317), primary_key=True),
    Column("value", String(63), primary_key=True),
    Column("workload_id", String(32), primary_key=True),
)
# Made with the tables (`migrate.triggers`), by dialect.
LABELS_TRIGGER = {
    "sqlite": [
        """CREATE TRIGGER IF NOT EXISTS kf_workload_labels_fill AFTER INSERT ON kf_workloads
BEGIN
  INSERT INTO kf_workload_labels (key, value, workload_id)
  SELECT key, value, NEW.id FROM json_each(NEW.spec, '$.labels');
END""",
    ],
}

spokes = Table(
    "kf_spokes",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("labels", Text, nullable=False),
    Column("cpu_millis", BigInteger, nullable=False),
    Column("memory_bytes", BigInteger, nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("executor", String(32), nullable=False),
    Column("agent_version", String(64), nullable=False),
    Column("credential_hash", String(64), nullable=False),  # sha256 of the credential
    Column("registered_at", _Time, nullable=False),
    Column("last_heartbeat", _Time, nullable=False),
    Column("health", String(16), nullable=False),
    Column("last_seq", BigInteger, nullable=False, default=0),  # highest event seq applied
    Column("approved", Boolean, nullable=False, default=True),  # joined with the fleet token: no
    Column("draining", Boolean, nullable=False, default=False),  # no new work placed
    Column("established", Boolean, nullable=False, default=False),  # heartbeated since joining
)

# Credentials the hub took back from a spoke's agent (`removed` by an operator, or
# `replaced` by a new agent registering the name): an agent still holding one (partitioned
# meanwhile) is told so (410) and stops the runs the hub has moved, instead of being told
# only "not valid" (401), which it takes for a store it must wait for.
retired_credentials = Table(
    "kf_retired_credentials",
    metadata,
    Column("credential_hash", String(64), primary_key=True),
    Column("spoke", String(63), nullable=False),
    Column("why", String(16), nullable=False),
    Column("retired_at", _Time, nullable=False),
)

# Join tokens: bound to one spoke name, expiring, single use; only a hash of the secret.
join_tokens = Table(
    "kf_join_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("spoke", String(63), nullable=False),
    Column("created_at", _Time, nullable=False),
    Column("expires_at", _Time, nullable=False),
    Column("used_at", _Time),
)

telemetry = Table(
    "kf_telemetry",
    metadata,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("spoke", String(63), nullable=False),
    Column("workload", String(32)),
    Column("generation", BigInteger),
    Column("seq", BigInteger, nullable=False),
    Column("at", _Time, nullable=False),
    Column("metrics", Text, nullable=False),
)
Index("kf_telemetry_workload", telemetry.c.workload, telemetry.c.at)
Index("kf_telemetry_spoke", telemetry.c.spoke, telemetry.c.at)
