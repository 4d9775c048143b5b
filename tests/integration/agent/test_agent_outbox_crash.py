"""The outbox under a real kill -9: every append that returned (was committed) is still there
afterwards, and the numbers on disk run 1..N without a gap."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.outbox import Outbox

WRITER = """
import sys
from pathlib import Path
from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.outbox import Outbox
box = Outbox(AgentDb(Path(sys.argv[1])))
i = 0
while True:
    i += 1
    seq = box.append("event", {"n": i})
    if i % 7 == 0:
        box.ack_through(seq - 3)
    print(seq, flush=True)
"""


def test_committed_appends_survive_kill9_without_gaps(tmp_path: Path):
    path = tmp_path / "agent.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    confirmed: list[int] = []
    deadline = time.monotonic() + 10
    while len(confirmed) < 300 and time.monotonic() < deadline:
        confirmed.append(int(writer.stdout.readline()))
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)

    box = Outbox(AgentDb(path))
    remaining = [e.seq for e in box.read(100_000)]
    last = box.last_seq()
    assert last >= confirmed[-1]  # nothing confirmed was lost
    assert remaining == list(range(remaining[0], last + 1))  # contiguous up to the last
    assert [e.body["n"] for e in box.read(100_000)] == remaining  # seq i holds append i
    assert box.append("event", {}) == last + 1  # and numbering carries on
