"""What this spoke has promised to runs it holds, so it can refuse an assignment it cannot
honour (the hub's view of free capacity may be stale) instead of over-committing itself.
Pure bookkeeping: cpu in millicores, memory in bytes, GPUs through the `GpuPool`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from kindfleet.platform.agent.gpus import GpuPool
from kindfleet.platform.wire import Capacity, Resources
from kindfleet.units import format_cpu, format_memory, parse_cpu, parse_memory


@dataclass(frozen=True)
class Need:
    cpu_millis: int
    memory_bytes: int
    gpus: int

    @classmethod
    def of(cls, resources: Resources) -> Need:
        return _need(resources.cpu, resources.memory, resources.gpu)


@functools.lru_cache(maxsize=256)  # a spoke sees few distinct requests, many times each
def _need(cpu: str, memory: str, gpus: int) -> Need:
    return Need(parse_cpu(cpu), parse_memory(memory), gpus)


class Ledger:
    """Capacity minus the needs of the runs reserved on it, by owner (run key)."""

    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity
        self.gpus = GpuPool(capacity.gpus)
        self._needs: dict[str, Need] = {}
        self._ids: dict[str, tuple[int, ...]] = {}  # GPU ids by owner, forced ones too
        self.allocated = Need(0, 0, 0)  # the sum of the needs, kept as they come and go

    def resize(self, capacity: Capacity) -> None:
        """Capacity learnt late (a cluster's nodes could not be read at start): the runs
        reserved keep what they hold, their GPU ids too, so none is handed out twice."""
        self.capacity = capacity
        self.gpus = GpuPool(capacity.gpus)
        for owner, ids in self._ids.items():
            self.gpus.claim(owner, ids)  # ids past the new count stay the run's own

    def shortfall(self, need: Need) -> str | None:
        """Why `need` does not fit in what is free now, or None when it does."""
        used = self.allocated
        lacks = []
        free_cpu = self.capacity.cpu_millis - used.cpu_millis
        if need.cpu_millis > free_cpu:
            lacks.append(f"cpu {format_cpu(need.cpu_millis)} > free {format_cpu(max(free_cpu, 0))}")
        free_memory = self.capacity.memory_bytes - used.memory_bytes
        if need.memory_bytes > free_memory:
            free = format_memory(max(free_memory, 0))
            lacks.append(f"memory {format_memory(need.memory_bytes)} > free {free}")
        if need.gpus > self.gpus.free:
            lacks.append(f"gpu {need.gpus} > free {self.gpus.free}")
        return "; ".join(lacks) or None

    def reserve(
        self,
        owner: str,
        need: Need,
        gpu_ids: tuple[int, ...] | None = None,
        *,
        force: bool = False,
    ) -> tuple[int, ...] | None:
        """Reserve `need` for `owner`; the GPU ids it gets (or keeps, when `gpu_ids` is given),
        or None with nothing reserved when it does not fit. `force`: a run that is already
        running (re-adopted after a restart) is counted whatever is free."""
        if owner in self._needs or (not force and self.shortfall(need) is not None):
            return None
        ids: tuple[int, ...] | None
        if gpu_ids is None:
            ids = self.gpus.allocate(owner, need.gpus)
        elif len(gpu_ids) == need.gpus and self.gpus.claim(owner, gpu_ids):
            ids = gpu_ids
        else:
            ids = None
        if ids is None and force:
            ids = gpu_ids or ()
        if ids is None:
            return None
        self._needs[owner] = need
        if ids:
            self._ids[owner] = ids
        self.allocated = _add(self.allocated, need, 1)
        return ids

    def release(self, owner: str) -> None:
        need = self._needs.pop(owner, None)
        self._ids.pop(owner, None)
        if need is not None:
            self.allocated = _add(self.allocated, need, -1)
        self.gpus.release(owner)


def _add(total: Need, need: Need, sign: int) -> Need:
    return Need(
        total.cpu_millis + sign * need.cpu_millis,
        total.memory_bytes + sign * need.memory_bytes,
        total.gpus + sign * need.gpus,
    )
