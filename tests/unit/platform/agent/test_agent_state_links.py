"""The agent's own files in its state directory are never followed through a link.

Found from outside: a run shares the agent's user and can reach the state directory
("$HOME/../.."); a link it put in place of the `keepers` record had the reaper truncate the
file it named, one in place of the agent's log had the agent chmod that file 0600 and append
its log lines to it, and the lock file would have had its target truncated."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.agent import paths
from kindfleet.platform.agent.executors.process import reaper
from kindfleet.platform.agent.lock import StateLock
from kindfleet.platform.logfiles import PrivateLog


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside" / "precious.txt"
    target.parent.mkdir()
    target.write_text("precious\n" * 100)
    target.chmod(0o644)
    return target


def _untouched(target: Path) -> None:
    assert target.read_text() == "precious\n" * 100
    assert target.stat().st_mode & 0o777 == 0o644


def test_the_reaper_empties_its_records_not_what_a_link_names(tmp_path, outside):
    state = tmp_path / "state"
    state.mkdir()
    (state / paths.KEEPERS).symlink_to(outside)
    reaper.reap(state)
    _untouched(outside)
    assert not (state / paths.KEEPERS).is_symlink()


def test_the_log_is_written_to_its_own_file_not_through_a_link(tmp_path, outside):
    log_path = tmp_path / "state" / "agent.log"
    log_path.parent.mkdir()
    log_path.symlink_to(outside)
    handler = PrivateLog(log_path)
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "a line", None, None)
        handler.emit(record)
    finally:
        handler.close()
    _untouched(outside)
    assert not log_path.is_symlink() and log_path.read_text() == "a line\n"
    assert log_path.stat().st_mode & 0o777 == 0o600


def test_a_link_in_place_of_the_lock_is_refused_by_name(tmp_path, outside):
    state = tmp_path / "state"
    state.mkdir()
    (state / paths.LOCK).symlink_to(outside)
    with pytest.raises(PrerequisiteError, match="is a symbolic link"):
        StateLock(state).try_acquire()
    _untouched(outside)
