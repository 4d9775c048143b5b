"""The agent's own durable memory of what it holds, so a restarted agent knows which runs
were its own: which to report as lost, which processes to clean up, which GPU ids a
re-adopted run keeps, and what to list as `held` in its heartbeats until the hub has
acknowledged the final report. Also the spoke credential, in a 0600 file.

An assignment goes accepted -> running -> done; a done one is forgotten once the outbox
entry that reported its end is acknowledged.
"""

from __future__ import annotations

import enum
import functools
import json
import os
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

from kindfleet.platform.agent.executors.base import RunHandle
from kindfleet.platform.agent.paths import run_key
from kindfleet.platform.wire import WorkloadSpec


class Phase(enum.StrEnum):
    ACCEPTED = "accepted"  # `accepted` reported; not started yet
    RUNNING = "running"  # started; `handle` finds it
    DONE = "done"  # terminal event in the outbox (terminal_seq); held until acked


@dataclass(frozen=True)
class Held:
    workload: str
    generation: int
    spec: WorkloadSpec
    phase: Phase
    gpu_ids: tuple[int, ...] = ()
    handle: RunHandle | None = None
    started_at: float | None = None  # wall clock, seconds since the epoch
    terminal_seq: int | None = None

    @functools.cached_property
    def key(self) -> str:  # cached: a frozen dataclass's fields never change
        return run_key(self.workload, self.generation)

    def but(self, **changes: object) -> Held:
        return replace(self, **changes)  # type: ignore[arg-type]

    def running(self, handle: RunHandle, started_at: float) -> Held:
        """Started (what `but` does, without its cost: this runs for every run)."""
        return Held(
            self.workload, self.generation, self.spec, Phase.RUNNING, self.gpu_ids, handle,
            started_at,
        )  # fmt: skip

    def done(self, terminal_seq: int) -> Held:
        """Its terminal event is in the outbox under `terminal_seq`."""
        return Held(
            self.workload, self.generation, self.spec, Phase.DONE, self.gpu_ids, self.handle,
            self.started_at, terminal_seq,
        )  # fmt: skip


# The `assignments` table: statements and their rows, written by the journal's
# transactions (records.py). The spec is written once, when the assignment is accepted;
# later changes touch only what changed.

INSERT_SQL = (
    "INSERT OR REPLACE INTO assignments (workload, generation, spec, phase, gpu_ids, handle,"
    " started_at, terminal_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
STARTED_SQL = (
    "UPDATE assignments SET phase = 'running', handle = ?, started_at = ?"
    " WHERE workload = ? AND generation = ?"
)
DONE_SQL = (
    "UPDATE assignments SET phase = 'done', terminal_seq = ? WHERE workload = ? AND generation = ?"
)
DELETE_SQL = "DELETE FROM assignments WHERE workload = ? AND generation = ?"


def insert_row(held: Held) -> tuple[object, ...]:
    return (
        held.workload,
        held.generation,
        held.spec.model_dump_json(),
        held.phase.value,
        ",".join(str(i) for i in held.gpu_ids),
        _handle_json(held.handle),
        held.started_at,
        held.terminal_seq,
    )


def started_row(held: Held) -> tuple[object, ...]:
    return (_handle_json(held.handle), held.started_at, held.workload, held.generation)


def done_row(held: Held, terminal_seq: int) -> tuple[object, ...]:
    return (terminal_seq, held.workload, held.generation)


def delete_row(held: Held) -> tuple[object, ...]:
    return (held.workload, held.generation)


def renumber_sql(shift: int, first: int) -> list[tuple[str, tuple[object, ...]]]:
    """Done runs whose terminal event waits in the outbox follow it when it is renumbered."""
    return [
        (
            "UPDATE assignments SET terminal_seq = terminal_seq + ? WHERE terminal_seq >= ?",
            (shift, first),
        )
    ]


def forget_acked(conn: sqlite3.Connection, acked_through: int) -> list[tuple[str, int]]:
    """Drop done assignments whose terminal event the hub has acknowledged."""
    rows = conn.execute(
        "DELETE FROM assignments WHERE phase = ? AND terminal_seq <= ?"
        " RETURNING workload, generation",
        (Phase.DONE.value, acked_through),
    ).fetchall()
    return [(w, g) for w, g in rows]


def load(conn: sqlite3.Connection) -> list[Held]:
    rows = conn.execute(
        "SELECT workload, generation, spec, phase, gpu_ids, handle, started_at, terminal_seq"
        " FROM assignments ORDER BY workload, generation"
    ).fetchall()
    return [_held(row) for row in rows]


def _handle_json(handle: RunHandle | None) -> str | None:
    if handle is None:
        return None
    return json.dumps({"executor": handle.executor, "ref": dict(handle.ref)})


def _held(row: tuple[object, ...]) -> Held:
    workload, generation, spec, phase, gpu_ids, handle, started_at, terminal_seq = row
    ref = json.loads(str(handle)) if handle else None
    return Held(
        workload=str(workload),
        generation=int(str(generation)),
        spec=WorkloadSpec.model_validate_json(str(spec)),
        phase=Phase(str(phase)),
        gpu_ids=tuple(int(i) for i in str(gpu_ids).split(",") if i),
        handle=RunHandle(ref["executor"], ref["ref"]) if ref else None,
        started_at=float(str(started_at)) if started_at is not None else None,
        terminal_seq=int(str(terminal_seq)) if terminal_seq is not None else None,
    )


class CredentialFile:
    """The spoke credential, readable by the agent's user only (0600), replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> str | None:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def save(self, credential: str) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, credential.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
