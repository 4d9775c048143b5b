"""The agent's own parts (the run manager, the process executor, spokectl) driving real
processes. They share the fixtures and helpers of the agent's in-process unit tests,
whose directory is put on the import path here, as pytest does for a test directory."""

from __future__ import annotations

import sys
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "unit" / "platform" / "agent"
if str(UNIT) not in sys.path:
    sys.path.insert(0, str(UNIT))

from tests.unit.platform.agent.conftest import _kill_leftover_groups, settings  # noqa: E402

__all__ = ["_kill_leftover_groups", "settings"]
