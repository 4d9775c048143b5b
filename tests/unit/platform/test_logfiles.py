"""The hub's and agent's log files follow their path: a logrotate-style move or an `rm` to
free a full disk, and the next lines go to a new file at the path, private again."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from kindfleet.platform.logfiles import PrivateLog


def _logger(path: Path) -> tuple[logging.Logger, PrivateLog]:
    handler = PrivateLog(path)
    logger = logging.getLogger(f"test.logfiles.{path.parent.name}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, handler


def test_a_moved_or_removed_log_is_written_anew_at_its_path(tmp_path: Path):
    path = tmp_path / "logs" / "hub.log"
    logger, handler = _logger(path)
    previous = os.umask(0o022)  # a new file would be 0644 by the umask alone
    try:
        logger.info("first")
        path.rename(tmp_path / "logs" / "hub.log.1")  # logrotate
        logger.info("second")
        assert (tmp_path / "logs" / "hub.log.1").read_text() == "first\n"
        assert path.read_text() == "second\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.unlink()  # freeing a full disk
        logger.info("third")
        assert path.read_text() == "third\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(previous)
        handler.close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_older_wider_log_is_made_private(tmp_path: Path):
    path = tmp_path / "agent.log"
    path.write_text("old\n")
    path.chmod(0o644)
    logger, handler = _logger(path)
    logger.info("new")
    handler.close()
    assert path.read_text() == "old\nnew\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
