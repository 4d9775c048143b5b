"""Simulated GPUs are a scarce, exclusive resource: two runs must never see the same device
id, and a run that survives an agent restart (a Kubernetes Job) must keep the ids it had.
This is the bookkeeping alone, with no I/O, so the exclusivity rule is tested exhaustively.
"""

from __future__ import annotations


class GpuPool:
    """Device ids 0..count-1 handed to owners (run keys), lowest free ids first."""

    def __init__(self, count: int) -> None:
        if count < 0:
            raise ValueError(f"gpu count {count} must not be negative")
        self.count = count
        self._owner_of: dict[int, str] = {}

    @property
    def free(self) -> int:
        return self.count - len(self._owner_of)

    def held_by(self, owner: str) -> tuple[int, ...]:
        return tuple(sorted(i for i, o in self._owner_of.items() if o == owner))

    def allocate(self, owner: str, count: int) -> tuple[int, ...] | None:
        """The ids now held by `owner`, or None (and nothing taken) when too few are free."""
        if count < 0:
            raise ValueError(f"cannot allocate {count} GPUs")
        if count == 0 and not self._owner_of:
            return ()  # the common case on a spoke without GPUs: nothing to look at
        if self.held_by(owner):
            raise ValueError(f"{owner} already holds GPUs")
        free = [i for i in range(self.count) if i not in self._owner_of]
        if len(free) < count:
            return None
        ids = tuple(free[:count])
        for i in ids:
            self._owner_of[i] = owner
        return ids

    def claim(self, owner: str, ids: tuple[int, ...]) -> bool:
        """Take exactly these ids back (a run re-adopted after a restart); all or nothing."""
        if any(i < 0 or i >= self.count or self._owner_of.get(i, owner) != owner for i in ids):
            return False
        for i in ids:
            self._owner_of[i] = owner
        return True

    def release(self, owner: str) -> None:
        if not self._owner_of:
            return
        for i in self.held_by(owner):
            del self._owner_of[i]
