"""The outbox under a real kill -9, through the journal's group commit: every append whose
future completed (was committed) is still there afterwards, and the numbers on disk run
1..N without a gap."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

WRITER = """
import asyncio, sys
from pathlib import Path
from kindfleet.platform.agent import outbox
from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.journal import Journal
from kindfleet.platform.agent.records import WriteSet

async def main():
    path = Path(sys.argv[1])
    AgentDb(path)
    journal = Journal(path, WriteSet)
    i = 0
    while True:
        batch = []
        for _ in range(20):  # 20 appends in flight at once: they share commits
            i += 1
            batch.append(journal.submit(lambda w, i=i: w.append("event", {"n": i})))
        for seq in await asyncio.gather(*batch):
            print(seq, flush=True)
        if i % 140 == 0:
            await journal.submit(lambda w: w.execute(outbox.ACK_THROUGH_SQL, (i - 100,)))

asyncio.run(main())
"""


def test_committed_appends_survive_kill9_without_gaps(tmp_path: Path):
    path = tmp_path / "agent.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    confirmed: list[int] = []
    deadline = time.monotonic() + 20
    while len(confirmed) < 600 and time.monotonic() < deadline:
        confirmed.append(int(writer.stdout.readline()))
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)

    assert len(confirmed) >= 600
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT seq, body FROM outbox ORDER BY seq").fetchall()
    last = conn.execute("SELECT value - 1 FROM meta WHERE key = 'next_seq'").fetchone()[0]
    remaining = [seq for seq, _ in rows]
    assert last >= confirmed[-1]  # nothing confirmed was lost
    assert remaining == list(range(remaining[0], last + 1))  # contiguous up to the last
    assert [int(body.split(":")[1].rstrip("}")) for _, body in rows] == remaining  # seq i: append i
