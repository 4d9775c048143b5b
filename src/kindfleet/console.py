"""The `kindfleet` script's entry: a Ctrl-C while the CLI is still being imported ends as
one does later (one line, exit 130), not with the traceback of an import.

Kept free of imports of its own, so that the window it cannot cover is only Python's
start.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130  # kindfleet.errors.EXIT_INTERRUPTED, not imported: see above


def main() -> None:
    try:
        from kindfleet.cli import main as cli
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    cli()
