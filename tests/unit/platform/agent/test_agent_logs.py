"""The log's last line of defence: known tokens never reach the file, tracebacks included."""

from __future__ import annotations

import logging
from pathlib import Path

from kindfleet.platform.agent import logs


def test_known_secrets_are_replaced_in_messages_and_tracebacks(tmp_path: Path):
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.setup("debug", tmp_path / "agent.log")
        logs.redact("tok-SECRET-99")
        logs.redact("")  # nothing to hide, nothing breaks
        log = logs.get("test")
        log.info("header was Bearer %s", "tok-SECRET-99")
        try:
            raise RuntimeError("failed with tok-SECRET-99")
        except RuntimeError:
            log.exception("boom")
        for handler in root.handlers:
            handler.flush()
        text = (tmp_path / "agent.log").read_text()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved
    assert "tok-SECRET-99" not in text
    assert text.count("***") == 3
    assert logging.getLogger("httpcore2").level == logging.WARNING
