"""Waiting in tests for what a process or a fleet does next: a condition looked at every
tenth of a second, bounded, and named when it never comes; a local fleet held up for a
module's tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """`check()`'s first true value, looked for until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)
    return value


def local_fleet(root: Path, text: str, *, clear_faults: bool = False) -> Iterator[Path]:
    """The fleet file `text` at `root/fleet.yaml`, brought up (its state under `root`) for
    as long as the generator is held, and taken down after (its faults cleared first)."""
    from kindfleet import Fleet

    path = root / "fleet.yaml"
    path.write_text(text)
    fleet = Fleet.from_path(path, state_dir=root / "state")
    fleet.up(preflight=False)
    try:
        yield path
    finally:
        if clear_faults:
            fleet.clear_faults()
        fleet.down()
