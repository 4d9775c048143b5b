"""The collector of a long-lived platform process: what exists at start is kept out of its
sight, but garbage that exists then is freed first, not kept for the process's life."""

from __future__ import annotations

import subprocess
import sys

# In a process of its own: freezing this test worker's heap would change every later test.
PROGRAM = """
import gc, weakref
from kindfleet.platform import collector

class Node:
    pass

kept = [Node() for _ in range(1000)]
cycle = Node()
cycle.me = cycle
dead = weakref.ref(cycle)
del cycle
gc.disable()  # no collection of its own may free the cycle before quiet() runs
collector.quiet()
print(dead() is None, gc.get_freeze_count() >= len(kept), gc.get_threshold()[0] > 700)
"""


def test_quiet_frees_garbage_then_freezes_what_lives():
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["True", "True", "True"]
