"""What the hub's writer thread spends on its hottest statements, in-process, no HTTP.

    .venv/bin/python benchmarks/writer_paths.py [--stored 2000] [--repeat 30]

Stores `--stored` workloads in a fresh SQLite store (WAL, synchronous=FULL, as the hub
runs it), leases 160 of them to a spoke, then times, best of `--repeat`, on the writer
thread: submissions in groups of 32 (idempotency lookup, insert, commit), 20 workloads
read by id with their records (a report, a placement), a spoke's deliverable work with
its records (an assignment poll), 32 idempotency keys looked up. To compare two versions
of the code, run it for each in turn, alternating (`PYTHONPATH=<other checkout>/src`).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from typing import Any

from hub_vs_bare import BODY
from sqlalchemy import Connection, update

from kindfleet.platform.hub.rules.queue import PendingQueue
from kindfleet.platform.hub.service.rows import record
from kindfleet.platform.hub.service.submit import prepare, submit_many
from kindfleet.platform.store import workloads as store
from kindfleet.platform.store.database import Database
from kindfleet.platform.store.schema import workloads
from kindfleet.platform.wire import WorkloadSpec

GROUP = 32


def best(fn: Callable[[int], Any], repeat: int, calls: int = 10) -> float:
    fastest = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(calls):
            fn(i)
        fastest = min(fastest, (time.perf_counter() - start) / calls)
    return fastest


async def main(stored: int, repeat: int) -> None:
    spec = WorkloadSpec.model_validate_json(BODY, strict=True)
    queue = PendingQueue()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/hub.db")
        await db.open()
        try:
            items = [prepare(f"k{i}", spec, 1.0) for i in range(stored)]
            made = await db.writer.run(lambda conn: submit_many(conn, items, queue=queue))
            ids = [m.record.id for m in made]  # type: ignore[union-attr]

            def lease(conn: Connection) -> None:
                chosen = workloads.c.id.in_(ids[:160])
                conn.execute(update(workloads).where(chosen).values(state="Assigned", spoke="s1"))

            await db.writer.run(lease)

            async def submissions() -> float:
                start = time.process_time()
                for g in range(repeat * 10):
                    group = [prepare(f"g{g}-{i}", spec, 1.0) for i in range(GROUP)]
                    await db.writer.run(
                        lambda conn, group=group: submit_many(conn, group, queue=queue)
                    )
                return (time.process_time() - start) / (repeat * 10 * GROUP)

            def reads(conn: Connection) -> dict[str, float]:
                hashes = [it.idem_hash for it in items]
                return {
                    "20 workloads by id, with records": best(
                        lambda i: [record(r) for r in store.by_ids(conn, ids[i : i + 20])], repeat
                    ),
                    "a spoke's 160 deliverable, with records": best(
                        lambda i: [record(r) for r in store.deliverable_on(conn, "s1")], repeat
                    ),
                    "32 idempotency keys looked up": best(
                        lambda i: store.by_idem(conn, hashes[i : i + 32]), repeat
                    ),
                }

            per_submission = await submissions()
            figures = await db.writer.run(reads)
        finally:
            db.close()
    print(f"{stored:,} workloads stored; best of {repeat}")
    print(
        f"{'a submission, in groups of 32 (CPU of the process)':<52} {per_submission * 1e6:8.0f} us"
    )
    for name, seconds in figures.items():
        print(f"{name:<52} {seconds * 1e6:8.0f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.stored, args.repeat))
