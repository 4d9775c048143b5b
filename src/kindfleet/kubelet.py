"""What a node's kubelet does with a container's log by default, which a spoke of the local
runtime does with a run's log too, and the bounds kindfleet keeps it in. One place for the
agent's flags and the fleet file's `runs`, which may not import each other. Standard
library only: a run's keeper imports it.
"""

from __future__ import annotations

LOG_MAX_SIZE = "10Mi"  # containerLogMaxSize
LOG_MAX_BYTES = 10 * 2**20
LOG_MAX_FILES = 5  # containerLogMaxFiles: the log and its rotated copies
LOG_MIN_BYTES = 16 * 1024  # a rotation copies a log's newest part: not a few bytes at a time
LOG_FILES_LIMIT = 100  # each rotation renames them all, while the keeper does nothing else
