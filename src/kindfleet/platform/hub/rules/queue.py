"""The pending queue in memory, grouped by shape, so a placement pass costs what changed.

Placement's own rule (`placement.place`) looks at every pending workload in queue order.
That is exact, and at 100,000 queued workloads that fit nowhere it is also a pass that
reads and weighs all of them every half second. Two facts make most of that work
pointless:

- Workloads of the same *shape* (resource request, selector, spokes to avoid) are
  interchangeable to placement. Within a pass free capacity only shrinks, so once one
  workload of a shape fits nowhere, none of the rest of that shape will: the pass skips
  the whole shape.
- Between passes, a shape that fit nowhere can only start to fit when the fleet gains
  room (work ends, a spoke comes back, is approved, undrained or grows). Until then the
  next pass does not look at it again.

So `plan` walks shapes, not workloads: it costs the number of workloads placed plus the
number of shapes that might fit. It decides exactly what `placement.place` would decide
for the same queue (the property tests hold it to that); only what it skips differs.

Pure: the service feeds it records after each commit and asks it for a plan inside the
pass's transaction. Nothing here is durable: the service rebuilds it from the store.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from kindfleet.platform.hub.rules.placement import (
    Amount,
    Demand,
    Placement,
    Policy,
    SpokeView,
    choose,
)
from kindfleet.platform.wire import Selector

# (request, canonical selector, spokes to avoid): workloads of one shape are interchangeable.
ShapeKey = tuple[Amount, str, frozenset[str]]
_Entry = tuple[int, str]  # (seq, workload id)


@dataclass
class _Shape:
    """Members in queue order: a bucket per priority (highest first), each in seq order.

    New work arrives with the highest seq of its priority (an append); placement takes
    from the front (a popleft): both O(1), however long the queue. A workload leaving from
    elsewhere (cancelled, expired) is marked dead where it is, and dropped once it reaches
    the front or the dead outnumber the living: `deque.remove` scanned the bucket, 2 ms a
    cancel with 100,000 pending, so a mass cancel held the writer for minutes.
    """

    key: ShapeKey
    request: Amount
    selector: Selector
    avoid: frozenset[str]
    buckets: dict[int, deque[_Entry]] = field(default_factory=dict)  # key: -priority
    order: list[int] = field(default_factory=list)  # bucket keys, sorted
    live: dict[int, int] = field(default_factory=dict)  # living members per bucket
    dead: dict[int, set[_Entry]] = field(default_factory=dict)  # removed, still in a bucket
    dead_count: int = 0
    size: int = 0
    unfit_at: int = -1  # the fleet version at which it last fit nowhere

    def add(self, neg_priority: int, entry: _Entry) -> None:
        bucket = self.buckets.get(neg_priority)
        if bucket is None:
            bucket = self.buckets[neg_priority] = deque()
            self.live[neg_priority] = 0
            self.dead[neg_priority] = set()
            bisect.insort(self.order, neg_priority)
        dead = self.dead[neg_priority]
        if entry in dead:  # back with its old place, which it still holds
            dead.discard(entry)
            self.dead_count -= 1
        elif not bucket or bucket[-1] < entry:
            bucket.append(entry)
        elif entry < bucket[0]:
            bucket.appendleft(entry)
        else:  # back in the queue with its old place, once dropped (rare): a linear insert
            bucket.insert(bisect.bisect_left(list(bucket), entry), entry)
        self.live[neg_priority] += 1
        self.size += 1

    def remove(self, neg_priority: int, entry: _Entry) -> None:
        bucket, dead = self.buckets[neg_priority], self.dead[neg_priority]
        if bucket[0] == entry:
            bucket.popleft()
            while bucket and bucket[0] in dead:
                dead.discard(bucket.popleft())
                self.dead_count -= 1
        else:
            dead.add(entry)
            self.dead_count += 1
        self.live[neg_priority] -= 1
        self.size -= 1
        if not self.live[neg_priority]:
            self.dead_count -= len(dead)
            del self.buckets[neg_priority], self.live[neg_priority], self.dead[neg_priority]
            self.order.remove(neg_priority)
        elif self.dead_count > max(64, self.size):
            self._compact()

    def _compact(self) -> None:
        for neg_priority, bucket in self.buckets.items():
            dead = self.dead[neg_priority]
            self.buckets[neg_priority] = deque(e for e in bucket if e not in dead)
            dead.clear()
        self.dead_count = 0

    def walk(self) -> Iterator[tuple[int, int, str]]:
        for neg_priority in self.order:
            dead = self.dead[neg_priority]
            for entry in self.buckets[neg_priority]:
                if entry not in dead:
                    yield neg_priority, entry[0], entry[1]


@dataclass(frozen=True, slots=True)
class Queued:
    """One pending workload as the queue keeps it (no spec, no env: a few dozen bytes)."""

    workload: str
    seq: int
    priority: int
    request: Amount
    selector: Selector
    selector_key: str
    avoid: frozenset[str] = frozenset()

    @property
    def shape(self) -> ShapeKey:
        return (self.request, self.selector_key, self.avoid)


@dataclass(frozen=True, slots=True)
class Plan:
    placements: list[Placement]
    unfit: list[ShapeKey]  # shapes that fit nowhere now
    version: int  # the fleet version the plan was made at
    shapes_tried: int


class PendingQueue:
    def __init__(self) -> None:
        self._shapes: dict[ShapeKey, _Shape] = {}
        self._where: dict[str, tuple[ShapeKey, int, _Entry]] = {}
        self._selectors: dict[str, Selector] = {}  # one object per distinct selector
        self.version = 0

    def __len__(self) -> int:
        return len(self._where)

    def clear(self) -> None:
        """Forget every workload (to be rebuilt from the store)."""
        self._shapes.clear()
        self._where.clear()
        self._selectors.clear()
        self.version += 1

    def __contains__(self, workload: object) -> bool:
        return workload in self._where

    @property
    def shapes(self) -> int:
        return len(self._shapes)

    def add(self, item: Queued) -> None:
        """Queue a workload (again); a workload already queued is moved to its new place.

        What it keeps of `item` is its id, seq and priority: its shape is referred to by
        the shape's own key, one object for all its members (a key per workload, with its
        own request, selector text and set of spokes to avoid, was some 400 bytes each: 40
        MB of a hub holding 100,000 pending)."""
        self.discard(item.workload)
        shape = self._shapes.get(item.shape)
        if shape is None:
            key = item.shape
            selector = self._selectors.setdefault(item.selector_key, item.selector)
            shape = self._shapes[key] = _Shape(key, item.request, selector, item.avoid)
        key = shape.key
        entry = (item.seq, item.workload)
        shape.add(-item.priority, entry)
        self._where[item.workload] = (key, -item.priority, entry)

    def discard(self, workload: str) -> None:
        found = self._where.pop(workload, None)
        if found is None:
            return
        key, neg_priority, entry = found
        shape = self._shapes[key]
        shape.remove(neg_priority, entry)
        if not shape.size:
            del self._shapes[key]
            if not any(k[1] == key[1] for k in self._shapes):
                self._selectors.pop(key[1], None)

    def fleet_changed(self) -> None:
        """The fleet may have gained room: every shape may fit again."""
        self.version += 1

    def mark_unfit(self, keys: Iterable[ShapeKey], version: int) -> None:
        for key in keys:
            shape = self._shapes.get(key)
            if shape is not None:
                shape.unfit_at = max(shape.unfit_at, version)

    def plan(self, spokes: Sequence[SpokeView], policy: Policy) -> Plan:
        """What `placement.place` would decide for this queue and these spokes.

        Changes nothing: the caller applies the placements, then (after its commit)
        `discard`s what was placed and `mark_unfit`s what fit nowhere.
        """
        free: dict[str, Amount] = {s.name: s.free for s in spokes}
        walks: dict[ShapeKey, Iterator[tuple[int, int, str]]] = {}
        heads: list[tuple[int, int, str, ShapeKey]] = []
        for key, shape in self._shapes.items():
            if shape.unfit_at < self.version:
                walks[key] = shape.walk()
                _push(heads, walks[key], key)
        tried = len(heads)
        placements: list[Placement] = []
        unfit: list[ShapeKey] = []
        while heads:
            neg_priority, seq, workload, key = heapq.heappop(heads)
            shape = self._shapes[key]
            demand = Demand(
                workload, shape.request, shape.selector, -neg_priority, seq, shape.avoid
            )
            spoke = choose(demand, spokes, free, policy)
            if spoke is None:
                unfit.append(key)
                continue
            free[spoke.name] = free[spoke.name] - shape.request
            placements.append(Placement(workload, spoke.name))
            _push(heads, walks[key], key)
        return Plan(placements, unfit, self.version, tried)

    def position(self, workload: str) -> int | None:
        """1-based place in queue order (placement considers it after those ahead)."""
        found = self._where.get(workload)
        if found is None:
            return None
        _, neg_priority, (seq, _) = found
        mine = (neg_priority, seq)
        ahead = sum(
            1 for shape in self._shapes.values() for p, s, _ in shape.walk() if (p, s) < mine
        )
        return ahead + 1

    def ids(self) -> list[str]:
        return list(self._where)


def _push(
    heads: list[tuple[int, int, str, ShapeKey]],
    walk: Iterator[tuple[int, int, str]],
    key: ShapeKey,
) -> None:
    nxt = next(walk, None)
    if nxt is not None:
        heapq.heappush(heads, (*nxt, key))
