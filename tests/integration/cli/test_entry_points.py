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


def test_ctrl_c_while_the_cli_imports_is_one_line_and_exit_130():
    """A Ctrl-C that lands while the CLI's modules load (typer's, here) ends as one that
    lands later: one line, the interrupted exit code, no traceback of the import."""
    from kindfleet import console, errors

    assert console.EXIT_INTERRUPTED == errors.EXIT_INTERRUPTED
    code = (
        "import sys\n"
        "class Stop:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Stop())\n"
        "from kindfleet.console import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == errors.EXIT_INTERRUPTED, done.stderr
    assert done.stderr == "error: interrupted\n"
