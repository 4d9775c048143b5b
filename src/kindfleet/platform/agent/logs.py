"""The agent's log, with a last line of defence for "no secret in any log": every formatted
line (tracebacks included) has the tokens the agent knows replaced by `***` before it is
written. The agent never puts a token in a message on purpose; this catches the accident.
Third-party HTTP loggers are kept at WARNING: their debug output includes headers and
request bodies (a workload's env values among them). The log file is the agent user's
alone (0600).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from kindfleet.platform.logfiles import PrivateLog

LOGGER = "kindfleet.agent"


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self.secrets: set[str] = set()

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


_formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def redact(secret: str | None) -> None:
    """Never write this value to the log from now on."""
    if secret and len(secret) >= 4:
        _formatter.secrets.add(secret)


def setup(level: str, log_file: Path | None) -> None:
    handler: logging.Handler = (
        PrivateLog(log_file) if log_file is not None else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(_formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx2", "httpcore2", "asyncio", "kubernetes_asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER}.{name}")
