"""What the agent remembers on disk: held assignments round-trip exactly; the credential is
0600 and replaced atomically."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from agent_unit_helpers import tx

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.agent import state
from kindfleet.platform.agent.db import AgentDb, check_library
from kindfleet.platform.agent.executors.base import RunHandle
from kindfleet.platform.agent.state import CredentialFile, Held, Phase
from kindfleet.platform.wire import WorkloadSpec

SPEC = WorkloadSpec(name="train", command=["python", "train.py"], env={"A": "1"})


def test_held_assignments_round_trip(tmp_path: Path):
    db = AgentDb(tmp_path / "a.db")
    running = Held(
        "w1",
        3,
        SPEC,
        Phase.RUNNING,
        gpu_ids=(0, 2),
        handle=RunHandle("process", {"key": "w1-g3", "pid": 42, "start": 1500, "dir": "/x"}),
        started_at=1700000000.25,
    )
    with tx(db) as conn:
        accepted = running.but(phase=Phase.ACCEPTED, handle=None, started_at=None)
        conn.execute(state.INSERT_SQL, state.insert_row(accepted))
        conn.execute(state.STARTED_SQL, state.started_row(running))
        conn.execute(state.INSERT_SQL, state.insert_row(Held("w2", 1, SPEC, Phase.ACCEPTED)))
    db.close()
    loaded = state.load(AgentDb(tmp_path / "a.db").conn)
    assert loaded[0] == running
    assert loaded[1] == Held("w2", 1, SPEC, Phase.ACCEPTED)
    assert loaded[0].key == "w1-g3"


def test_done_ones_are_forgotten_once_their_report_is_acknowledged(tmp_path: Path):
    db = AgentDb(tmp_path / "a.db")
    with tx(db) as conn:
        conn.execute(
            state.INSERT_SQL, state.insert_row(Held("w1", 1, SPEC, Phase.DONE, terminal_seq=5))
        )
        conn.execute(
            state.INSERT_SQL, state.insert_row(Held("w2", 1, SPEC, Phase.DONE, terminal_seq=9))
        )
        conn.execute(state.INSERT_SQL, state.insert_row(Held("w3", 1, SPEC, Phase.RUNNING)))
        assert state.forget_acked(conn, 8) == [("w1", 1)]
    assert [h.workload for h in state.load(db.conn)] == ["w2", "w3"]
    with tx(db) as conn:
        conn.execute(state.DELETE_SQL, ("w3", 1))
    assert [h.workload for h in state.load(db.conn)] == ["w2"]


def test_credential_file_is_private(tmp_path: Path):
    creds = CredentialFile(tmp_path / "credential")
    assert creds.load() is None
    creds.save("first")
    creds.save("second")
    assert creds.load() == "second"
    assert stat.S_IMODE((tmp_path / "credential").stat().st_mode) == 0o600
    assert not (tmp_path / "credential.tmp").exists()
    creds.clear()
    assert creds.load() is None


def test_the_database_and_its_companions_are_private(tmp_path: Path):
    path = tmp_path / "agent.db"
    path.touch(mode=0o644)
    path.chmod(0o644)  # an older agent's file, wider than it should be
    db = AgentDb(path)
    with tx(db) as conn:
        conn.execute(
            state.INSERT_SQL, state.insert_row(Held("w1", 1, SPEC, Phase.ACCEPTED))
        )  # -wal and -shm exist now
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"agent.db": 0o600, "agent.db-wal": 0o600, "agent.db-shm": 0o600}


def test_a_sqlite_library_without_delete_returning_is_refused_at_start() -> None:
    """The journal forgets acknowledged work with DELETE ... RETURNING (3.35): an older
    library is refused when the agent opens its database, not at its first ack."""
    with pytest.raises(PrerequisiteError, match=r"is 3\.34\.1; the spoke agent needs 3\.35"):
        check_library((3, 34, 1))
    check_library((3, 35, 0))
    check_library()  # this machine's
