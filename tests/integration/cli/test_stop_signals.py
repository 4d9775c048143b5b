"""A command stopped from outside cleans up as one stopped by Ctrl-C: `timeout` and a
cancelled CI job send SIGTERM, a closed terminal SIGHUP, `| head` closes its output. The
demo is the command that starts the most (a hub, links, agents and their runs), in a
directory of its own: none of it may outlive the command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.procscan import end_naming

from kindfleet.errors import EXIT_INTERRUPTED

pytestmark = pytest.mark.slow

DEMO = [str(Path(sys.executable).parent / "kindfleet"), "demo", "--timeout", "60"]
ENV = {**os.environ, "NO_COLOR": "1"}


def _state_dir(stderr) -> Path:
    """The demo's directory, from its first line; reads on to the line naming the hub."""
    root = None
    for line in stderr:
        found = re.search(r"state in (\S+)", line)
        if found:
            root = Path(found.group(1))
        if line.startswith("▸ hub at"):
            break
    assert root is not None, "the demo never said where its state is"
    return root


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_the_demo_alone_tears_its_fleet_down(sig):
    demo = subprocess.Popen(
        DEMO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV
    )
    root = _state_dir(demo.stderr)
    demo.send_signal(sig)  # to the command only, as `timeout` does
    rest = demo.stderr.read()
    code = _end(demo)
    assert end_naming(root) == []
    assert code == EXIT_INTERRUPTED, rest
    if sig == signal.SIGTERM:  # after SIGHUP its terminal is gone: it writes to nothing
        assert "tearing the fleet down" in rest
    assert not root.exists(), sorted(str(p) for p in root.rglob("*"))


def test_the_demo_piped_to_head_tears_its_fleet_down():
    """`kindfleet demo 2>&1 | head -5`: output closed while the progress is drawn, so
    every line after fails, the one that says the fleet goes included; it goes all the
    same."""
    demo = subprocess.Popen(
        DEMO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
    )
    root = _state_dir(demo.stdout)
    for line in demo.stdout:
        if line.startswith("▸ submitted"):
            break
    demo.stdout.readline()  # the first line of the progress
    demo.stdout.close()  # as `head` does once it has its lines
    _end(demo)
    assert end_naming(root) == []
    assert not root.exists(), sorted(str(p) for p in root.rglob("*"))


def _end(demo: subprocess.Popen[str]) -> int | None:
    """The demo's exit code once it ended by itself (None: it had to be killed)."""
    try:
        return demo.wait(60)
    except subprocess.TimeoutExpired:
        demo.kill()
        demo.wait()
        return None
