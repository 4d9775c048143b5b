"""Accepting work: checks beyond the wire schema, idempotency, and the bulk insert.

Submissions are the hub's hot path. Single submissions that arrive together are handed
to `submit_many` as one list by the group-commit writer: one lookup of their idempotency
keys, one multi-row insert, one fsync for all of them. A batch request goes through the
same function atomically: one conflicting key refuses the whole batch.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from kindfleet.platform.hub.rules.queue import PendingQueue
from kindfleet.platform.hub.rules.transitions import WorkloadRecord, new_record, request_of
from kindfleet.platform.hub.service.refusals import Conflict, HubError, Invalid
from kindfleet.platform.hub.service.rows import (
    canonical,
    digest,
    new_row,
    queued,
    record,
    selector_key,
)
from kindfleet.platform.store import after_commit
from kindfleet.platform.store import workloads as store
from kindfleet.platform.wire import (
    IDEMPOTENCY_KEY,
    KEY_REQUIRED,
    MAX_IDEMPOTENCY_KEY,
    PROGRAM,
    WORKLOAD_ID,
    SelectorOp,
    WorkloadSpec,
    idempotency_key_problem,
)

MAX_KEY = MAX_IDEMPOTENCY_KEY
_KEY = re.compile(IDEMPOTENCY_KEY[1:-1])
_ID = re.compile(WORKLOAD_ID[1:-1])
_PROGRAM = re.compile(PROGRAM[1:-1])  # as the schema says it (fullmatch: no ^ and $)
# Far beyond any machine, and within a signed 64-bit column in both databases.
MAX_CPU_MILLIS = 10**12
MAX_MEMORY_BYTES = 2**62
ID_PREFIX = "wl-"


# Ids need to be unique, not secret. In the order they are made, so that a new workload's
# entries land at the end of the id index and of the labels' key (pages already in memory
# and in this commit), not on a random page each: 80 bits, the time in milliseconds above
# 36 bits for the ids of one millisecond; each id greater than the last, and the first
# greater than the greatest in the store (`ids_after`), should the clock step back
# between two ids or two hubs.
_ID_BITS, _COUNT_BITS = 80, 36
_ids = {"last": 0}
_ids_lock = threading.Lock()


def new_id() -> str:
    with _ids_lock:
        value = max(int(time.time() * 1000) << _COUNT_BITS, _ids["last"] + 1)
        if value >> _ID_BITS:  # past the form: only after a store of random ids at its top
            return f"{ID_PREFIX}{secrets.randbits(_ID_BITS):020x}"
        _ids["last"] = value
    return f"{ID_PREFIX}{value:020x}"


def ids_after(greatest: str | None) -> None:
    """Every id made from now on is greater than `greatest` (the store's greatest id)."""
    if greatest is not None and valid_id(greatest):
        with _ids_lock:
            _ids["last"] = max(_ids["last"], int(greatest[len(ID_PREFIX) :], 16))


def valid_key(key: str) -> bool:
    """An Idempotency-Key as the route's header constraints take it (1-200, the pattern)."""
    return 0 < len(key) <= MAX_KEY and _KEY.fullmatch(key) is not None


def valid_id(value: str) -> bool:
    """Of the form the hub gives ids (the wire's WORKLOAD_ID, which clients check too)."""
    return _ID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Submission:
    idem_hash: str
    spec: WorkloadSpec
    spec_json: str
    spec_hash: str
    workload_id: str
    now: float
    path: str = ""  # where the spec sits in the request, for error paths ("items[3].")


@dataclass(frozen=True, slots=True)
class Submitted:
    record: WorkloadRecord
    created: bool


def prepare(key: str | None, spec: WorkloadSpec, now: float, *, path: str = "") -> Submission:
    """Check a submission and compute what the store needs; raises Invalid (422)."""
    key_path = f"{path}idempotency_key" if path else "Idempotency-Key"
    problem = KEY_REQUIRED if key is None else idempotency_key_problem(key)
    if key is None or problem is not None:
        raise Invalid.at(key_path, problem or KEY_REQUIRED)
    problems = spec_problems(spec)
    if problems:
        raise Invalid(
            "; ".join(f"{path}{p}: {m}" for p, m in problems),
            errors=[{"path": f"{path}{p}", "message": m} for p, m in problems],
        )
    text = canonical(spec)
    return Submission(digest(key), spec, text, digest(text), new_id(), now, path)


def spec_problems(spec: WorkloadSpec) -> list[tuple[str, str]]:
    """What the wire schema cannot say: sane sizes, well-formed selector expressions."""
    problems = []
    if not _PROGRAM.fullmatch(spec.command[0]):  # taken, then failed on its spoke
        problems.append(("command[0]", "the program to run must not be empty"))
    request = request_of(spec)
    if request.cpu_millis > MAX_CPU_MILLIS:
        problems.append(("resources.cpu", "is larger than any spoke can offer"))
    if request.memory_bytes > MAX_MEMORY_BYTES:
        problems.append(("resources.memory", "is larger than any spoke can offer"))
    for i, expr in enumerate(spec.selector.match_expressions):
        where = f"selector.match_expressions[{i}].values"
        if expr.operator in (SelectorOp.IN, SelectorOp.NOT_IN) and not expr.values:
            problems.append((where, f"{expr.operator.value} needs at least one value"))
        if expr.operator in (SelectorOp.EXISTS, SelectorOp.DOES_NOT_EXIST) and expr.values:
            problems.append((where, f"{expr.operator.value} takes no values"))
    for key, value in spec.labels.items():
        if "\x00" in key or "\x00" in value:
            problems.append((f"labels.{key.replace(chr(0), '')}", "must not contain NUL"))
    return problems


def submit_many(
    conn: Connection,
    items: Sequence[Submission],
    *,
    queue: PendingQueue,
    atomic: bool = False,
) -> list[Submitted | HubError]:
    """Store new work; a key seen before answers with its workload (or 409 if the spec differs).

    `atomic`: raise the first conflict instead of answering it, before writing anything;
    so its keys are looked up first. Otherwise the insert itself skips a stored key (one
    statement, where most groups hold only new keys) and only those skipped are looked up.
    Once committed, the new work joins the in-memory queue.
    """
    known: dict[str, tuple[str, WorkloadRecord]] = {}
    if atomic:
        known = _stored(conn, [i.idem_hash for i in items])
        _refuse_conflicts(items, known)
    firsts: dict[str, Submission] = {}  # the first of each key not stored, to insert
    for item in items:
        if item.idem_hash not in known:
            firsts.setdefault(item.idem_hash, item)
    new = [
        (new_record(i.workload_id, i.spec, i.now), selector_key(i.spec.selector), i)
        for i in firsts.values()
    ]
    seqs = store.insert(
        conn,
        [
            new_row(
                rec,
                idem_hash=item.idem_hash,
                spec_json=item.spec_json,
                spec_hash=item.spec_hash,
                selector=selector,
            )
            for rec, selector, item in new
        ],
        {rec.id: item.spec.labels for rec, _, item in new},
    )
    # Each new record once more, with its seq (made anew: `replace` costs three times
    # as much); a key the store held already (a retry) is looked up.
    stored: dict[str, tuple[WorkloadRecord, str]] = {}
    for rec, selector, item in new:
        if rec.id in seqs:
            stored[rec.id] = (
                new_record(rec.id, rec.spec, rec.submitted_at, seq=seqs[rec.id]),
                selector,
            )
            known[item.idem_hash] = (item.spec_hash, stored[rec.id][0])
    skipped = [item.idem_hash for _, _, item in new if item.idem_hash not in known]
    if skipped:
        known.update(_stored(conn, skipped))
    if stored:
        after_commit(conn, lambda: _enqueue(queue, stored.values()))
    out: list[Submitted | HubError] = []
    for item in items:
        spec_hash, rec = known[item.idem_hash]
        if spec_hash != item.spec_hash:
            out.append(_conflict(item, f"workload {rec.id}"))
        else:  # created by the first of its key in this group, a repeat answers it as a retry
            out.append(
                Submitted(rec, created=firsts.get(item.idem_hash) is item and rec.id in stored)
            )
    return out


def _stored(conn: Connection, hashes: Sequence[str]) -> dict[str, tuple[str, WorkloadRecord]]:
    """The stored workloads of these idempotency keys: their spec hash and record."""
    return {h: (row.spec_hash, record(row)) for h, row in store.by_idem(conn, hashes).items()}


def _refuse_conflicts(
    items: Sequence[Submission], known: dict[str, tuple[str, WorkloadRecord]]
) -> None:
    """Raise the first submission whose key names other work, stored or earlier in `items`."""
    seen = {h: (spec_hash, f"workload {rec.id}") for h, (spec_hash, rec) in known.items()}
    for item in items:
        earlier = f"{item.path.rstrip('.') or 'an earlier item'} of this batch"
        spec_hash, used = seen.setdefault(item.idem_hash, (item.spec_hash, earlier))
        if spec_hash != item.spec_hash:
            raise _conflict(item, used)


def _conflict(item: Submission, used: str) -> Conflict:
    """`used`: what the key names ("workload wl-..." stored, or an earlier item's path in
    the same atomic batch, whose id is never stored)."""
    return Conflict(
        f"{item.path}idempotency key was already used for {used} with a different spec; use "
        "a new key for new work"
    )


def _enqueue(queue: PendingQueue, records: Iterable[tuple[WorkloadRecord, str]]) -> None:
    for rec, selector in records:
        queue.add(queued(rec, selector))
