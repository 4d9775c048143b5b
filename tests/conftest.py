"""Shared fixtures. Tests that need Docker or real KIND are marked and skip with a reason."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kindfleet.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `kindfleet ARGS` in-process through the real entry point (exit codes included)."""

    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["kindfleet", *args])
        environ = dict(os.environ)  # global flags (--provider, --debug) set it for one run
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.environ.clear()
            os.environ.update(environ)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
