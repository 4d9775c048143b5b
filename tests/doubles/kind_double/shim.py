"""The `kind` executable that puts the double on PATH: a two-line shell script that runs
`kind.py` with the Python running the tests (which has PyYAML)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

KIND_PY = Path(__file__).resolve().parent / "kind.py"


def write_shim(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "kind"
    python = shlex.quote(sys.executable)
    shim.write_text(f'#!/bin/sh\nexec {python} {shlex.quote(str(KIND_PY))} "$@"\n')
    shim.chmod(0o755)
    return shim
