"""Helpers for the agent's in-process tests."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import psutil

from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.settings import AgentSettings
from kindfleet.platform.wire import WorkloadSpec


def with_capacity(settings: AgentSettings, **capacity: int) -> AgentSettings:
    return replace(settings, capacity=settings.capacity.model_copy(update=capacity))


def py(code: str, **fields: object) -> WorkloadSpec:
    return WorkloadSpec.model_validate(
        {"name": "job", "command": [sys.executable, "-c", code], **fields}
    )


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextmanager
def tx(db: AgentDb) -> Iterator[sqlite3.Connection]:
    """One transaction on the db's own connection (the journal's is for the agent)."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db.conn
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")
