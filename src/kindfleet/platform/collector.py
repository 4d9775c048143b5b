"""The cyclic garbage collector of a long-lived platform process (the hub, an agent).

What is loaded once a process serves (modules, classes, the models' schemas, the app)
lives as long as it does, yet every full collection walked all of it again: 7% of the
hub's CPU while it took submissions (perf), a few milliseconds every few hundred runs in
an agent. Moved out of the collector's sight, and young collections less often.
"""

from __future__ import annotations

import gc


def quiet() -> None:
    """Call once the process is ready to serve: what exists by then is kept, not scanned."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)
