"""kindfleet as a user starts it: `python -m kindfleet` and the installed console script,
each a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES

ARTICLE = str(EXAMPLES / "article.yaml")


def test_python_dash_m_and_console_script():
    env = {**os.environ, "NO_COLOR": "1"}
    for argv in (
        [sys.executable, "-m", "kindfleet"],
        [str(Path(sys.executable).parent / "kindfleet")],
    ):
        done = subprocess.run(
            [*argv, "validate", "-f", ARTICLE, "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["name"] == "platform"
