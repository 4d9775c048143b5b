"""The fleet's fault records: what was broken, where, when, by whom, and whether it was
cleared, kept in the fleet's state directory so that any later command (`fault list`,
`fault clear`, `down`) sees and can undo what another one injected.

One JSON file, replaced atomically, changed only under an exclusive lock (flock on a
file beside it, which the kernel releases if the holder dies): two `kindfleet fault`
commands racing on one cluster are serialised, and the second sees the first's fault.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from kindfleet.errors import KindfleetError
from kindfleet.providers.base import FaultSpec

INJECTING = "injecting"  # the provider is at work (or its command died half-way)
ACTIVE = "active"
CLEARED = "cleared"
LIVE = (INJECTING, ACTIVE)
KEEP_CLEARED = 200  # history kept: the newest cleared records
LATEST = datetime(9999, 12, 31, tzinfo=UTC).timestamp()  # the last moment a datetime holds


def moment(value: object) -> float | None:
    """`value` as a time a record may hold (seconds since the epoch, up to year 9999), or
    None: a record edited by hand, or written before `--for` was capped, must not break
    the commands that show it (the hub's report turns every time into a datetime)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value <= LATEST else None


@dataclass(frozen=True)
class Holder:
    """The process that holds a fault for a while (`--for`), to tell whether it still will."""

    pid: int
    started: float

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), psutil.Process().create_time())

    @classmethod
    def from_dict(cls, data: object) -> Holder | None:
        """None for what is not a holder as kindfleet writes it: no process to wait for."""
        if not isinstance(data, dict):
            return None
        pid, started = data.get("pid"), moment(data.get("started"))
        if isinstance(pid, bool) or not isinstance(pid, int) or started is None:
            return None
        return cls(pid, started)

    def alive(self) -> bool:
        try:
            return abs(psutil.Process(self.pid).create_time() - self.started) < 0.01
        except psutil.Error:
            return False


@dataclass
class FaultRecord:
    id: str
    action: str
    cluster: str
    role: str
    provider: str
    injected_at: float
    state: str = INJECTING
    latency_ms: int = 0
    loss_percent: float = 0.0
    until: float | None = None  # when its holder clears it (`--for`); None: until cleared
    holder: Holder | None = None
    undo: dict[str, Any] = field(default_factory=dict)
    cleared_at: float | None = None
    cleared_by: str | None = None
    error: str | None = None  # the last failure to inject or clear it

    @property
    def live(self) -> bool:
        return self.state in LIVE

    @property
    def spec(self) -> FaultSpec:
        return FaultSpec(self.action, self.cluster, self.latency_ms, self.loss_percent)  # type: ignore[arg-type]

    def note(self, now: float | None = None) -> str:
        """What a person should know about a live fault beyond its state."""
        now = time.time() if now is None else now
        if not self.live:
            return f"cleared by {self.cleared_by}" if self.cleared_by else ""
        parts = []
        if self.state == INJECTING and not (self.holder and self.holder.alive()):
            parts.append("its command died while injecting: `fault clear` undoes what it did")
        if self.until is None and self.holder is not None:
            parts.append(
                "its `--for` end could not be read: it stays until `kindfleet fault clear`"
            )
        if self.until is not None:
            if self.holder is not None and self.holder.alive():
                parts.append(f"held by pid {self.holder.pid} for {max(0, self.until - now):.0f}s")
            else:
                parts.append("its `--for` holder is gone: clear it with `kindfleet fault clear`")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRecord:
        """A time that cannot be read is dropped, whichever is safe: a fault's start becomes
        0 (shown blank), its `--for` end "none" (the fault stays until cleared, and its
        note says why), its clearing time unknown (it stays cleared)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["holder"] = Holder.from_dict(values.get("holder"))
        values["injected_at"] = moment(values.get("injected_at")) or 0.0
        for name in ("until", "cleared_at"):
            values[name] = moment(values.get(name))
        return cls(**values)


class FaultBook:
    """The records of one fleet, in `<fleet state dir>/faults.json`."""

    def __init__(self, directory: Path, *, lock_timeout: float = 300.0) -> None:
        self.directory = directory
        self.path = directory / "faults.json"
        self.lock_path = directory / "faults.lock"
        self.lock_timeout = lock_timeout

    def read(self) -> list[FaultRecord]:
        """Every record, oldest first (no lock needed: the file is replaced atomically)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError, RecursionError) as exc:
            raise self._unreadable(str(exc) or type(exc).__name__) from None
        try:
            return [FaultRecord.from_dict(d) for d in data.get("faults", [])]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # edited by hand
            raise self._unreadable(f"not the records kindfleet writes ({exc!r})") from None

    def _unreadable(self, why: str) -> KindfleetError:
        return KindfleetError(
            f"cannot read the fault records {self.path}: {why}",
            hint="move the file away to start afresh (faults it names are then yours to undo)",
        )

    def live(self) -> list[FaultRecord]:
        return [r for r in self.read() if r.live]

    @contextlib.contextmanager
    def changing(self) -> Iterator[list[FaultRecord]]:
        """The records to change in place, under the lock; written back when the block ends
        (also when it raises, so a record of a half-done injection is kept)."""
        with self._lock():
            records = self.read()
            try:
                yield records
            finally:
                self.write(records)

    def new_id(self, records: list[FaultRecord]) -> str:
        taken = {r.id for r in records}
        while True:
            candidate = f"f-{secrets.token_hex(3)}"
            if candidate not in taken:
                return candidate

    def write(self, records: list[FaultRecord]) -> None:
        """Replace the file with `records` (the caller holds the lock: `changing`)."""
        cleared = [r for r in records if not r.live]
        dropped = {id(r) for r in cleared[: max(0, len(cleared) - KEEP_CLEARED)]}
        kept = [r.to_dict() for r in records if id(r) not in dropped]
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"faults": kept}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise KindfleetError(
                            f"another kindfleet command has held {self.lock_path} for "
                            f"{self.lock_timeout:.0f}s",
                            hint="wait for it to finish (a fault being injected or cleared)",
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing releases the lock
