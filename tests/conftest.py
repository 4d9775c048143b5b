"""Shared fixtures. Tests that need Docker or real KIND are marked and skip with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
