"""Mount host paths, made absolute the way the user meant them.

kind hands `extraMounts[].hostPath` to `docker run --volume` as written: `~/data` is not
expanded (no shell is involved) and `./data` is not a path at all to Docker (a name
without a slash is a named volume), so both fail or surprise far from the fleet file.
Here `~` is expanded and a relative path is read from the fleet file's own directory,
and the result is said out loud (`validate` shows it), so the rendered config works
from any directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HostPath:
    path: str  # what kind gets
    note: str | None = None  # how it was derived, when it was
    problem: str | None = None


def resolve(text: str, base_dir: Path | None) -> HostPath:
    """`text` as an absolute path; `base_dir` is the fleet file's directory (None: the
    current directory, for fleets that come from no file)."""
    if text.startswith("~"):
        expanded = os.path.expanduser(text)
        if expanded.startswith("~"):
            user = text.split("/", 1)[0]
            return HostPath(text, problem=f"{user} names no user on this machine")
        return HostPath(expanded, note=f"{text} is {expanded} (~ expanded)")
    if os.path.isabs(text):
        return HostPath(text)
    base = base_dir if base_dir is not None else Path.cwd()
    where = "the fleet file's directory" if base_dir is not None else "the current directory"
    resolved = os.path.normpath(base / text)
    return HostPath(resolved, note=f"{text} is {resolved} (relative to {where})")
