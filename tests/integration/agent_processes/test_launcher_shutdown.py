"""The launcher's end tells every keeper until it is gone.

A keeper forked an instant before the launcher's end has the launcher's signal handler
until it sets its own: a SIGTERM then is lost, and the keeper goes on to start the run it
was just sent. Found by the kill-at-a-random-moment stress test (test_agent_process_tree):
the run outlived its agent by the launcher's 15 s bound. Here a keeper that misses its
first SIGTERM (it ignores it, as one that had not set its handler yet would) must still
end by a SIGTERM of the launcher's, not by the SIGKILL that bounds a stuck one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import os, selectors, signal, socket, sys, time
from kindfleet.platform.agent.executors.process import launcher

told = sys.argv[1]
ours, theirs = socket.socketpair()
ready_r, ready_w = os.pipe()
pid = os.fork()
if pid == 0:  # the keeper that missed the first SIGTERM
    count = []

    def on_term(*_):
        count.append(1)
        if len(count) == 2:
            with open(told, "w") as f:
                f.write("told twice")
            os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    os.write(ready_w, b"x")
    while True:
        time.sleep(0.01)
os.read(ready_r, 1)
la = launcher.Launcher.__new__(launcher.Launcher)
la.pid, la.base, la.idle, la.busy, la.news, la.gone = os.getpid(), None, [], {}, [], 0
la.sel = selectors.DefaultSelector()
la.records = os.open(os.devnull, os.O_WRONLY)
keeper = launcher._KeeperRef(pid, ours)
la.keepers = {pid: keeper}
la.sel.register(ours, selectors.EVENT_READ, keeper)
la._shutdown()
print("keepers left:", len(la.keepers))
"""


def test_a_keeper_that_missed_the_first_sigterm_is_told_again(tmp_path: Path) -> None:
    told = tmp_path / "told"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(told)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "keepers left: 0" in out.stdout, out.stderr
    assert told.read_text() == "told twice"
