"""What the agent remembers on disk: held assignments round-trip exactly; the credential is
0600 and replaced atomically."""

from __future__ import annotations

import stat
from pathlib import Path

from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.executors.base import RunHandle
from kindfleet.platform.agent.state import CredentialFile, Held, Holdings, Phase
from kindfleet.platform.wire import WorkloadSpec

SPEC = WorkloadSpec(name="train", command=["python", "train.py"], env={"A": "1"})


def test_held_assignments_round_trip(tmp_path: Path):
    db = AgentDb(tmp_path / "a.db")
    holdings = Holdings(db)
    running = Held(
        "w1",
        3,
        SPEC,
        Phase.RUNNING,
        gpu_ids=(0, 2),
        handle=RunHandle("process", {"pid": 42, "pgid": 42, "start": 1.5, "dir": "/x"}),
        started_at=1700000000.25,
    )
    holdings.put(running)
    holdings.put(Held("w2", 1, SPEC, Phase.ACCEPTED))
    db.close()
    loaded = Holdings(AgentDb(tmp_path / "a.db")).all()
    assert loaded[0] == running
    assert loaded[1] == Held("w2", 1, SPEC, Phase.ACCEPTED)
    assert loaded[0].key == "w1-g3"


def test_done_ones_are_forgotten_once_their_report_is_acknowledged(tmp_path: Path):
    holdings = Holdings(AgentDb(tmp_path / "a.db"))
    holdings.put(Held("w1", 1, SPEC, Phase.DONE, terminal_seq=5))
    holdings.put(Held("w2", 1, SPEC, Phase.DONE, terminal_seq=9))
    holdings.put(Held("w3", 1, SPEC, Phase.RUNNING))
    assert holdings.forget_acked(8) == [("w1", 1)]
    assert [h.workload for h in holdings.all()] == ["w2", "w3"]
    holdings.delete("w3", 1)
    assert [h.workload for h in holdings.all()] == ["w2"]


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
