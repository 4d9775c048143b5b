"""A run's memory measured as an OOM kill would judge it (memcap.py): the fields read, the
verdict, when to look again, and real processes' memory from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from kindfleet.platform.agent.executors.process.memcap import (
    FIRST_LOOK,
    MemoryWatch,
    describe,
    fields_kib,
    used_bytes,
)
from kindfleet.platform.agent.executors.process.pace import MAX_WAIT, MIN_WAIT

ROLLUP = b"""565462378000-7fff3e3c8000 ---p 00000000 00:00 0                          [rollup]
Rss:                1732 kB
Pss:                 806 kB
Pss_Anon:            112 kB
Pss_File:            694 kB
Pss_Shmem:            40 kB
Anonymous:           160 kB
"""


def test_the_fields_an_oom_kill_weighs_are_added_up() -> None:
    assert fields_kib(ROLLUP, (b"Pss_Anon:", b"Pss_Shmem:")) == 152  # not Pss_File
    assert fields_kib(ROLLUP, (b"Anonymous:",)) == 160
    assert fields_kib(ROLLUP, (b"Nope:",)) is None
    assert fields_kib(b"Pss_Anon:\nPss_Shmem: x kB\n", (b"Pss_Anon:", b"Pss_Shmem:")) is None


def test_a_run_over_its_limit_is_judged_so_and_a_growing_one_looked_at_sooner() -> None:
    watch = MemoryWatch(limit=100 << 20, now=0.0)
    assert watch.due == FIRST_LOOK
    assert not watch.over(10 << 20, now=1.0)
    steady = watch.due - 1.0
    assert not watch.over(80 << 20, now=2.0)  # grew 70Mi in a second, 20Mi left
    growing = watch.due - 2.0
    assert MIN_WAIT <= growing < steady <= MAX_WAIT
    assert watch.over((100 << 20) + 1, now=2.1)


def test_the_message_names_the_use_and_the_limit() -> None:
    text = describe(300 << 20, 64 << 20)
    assert "300Mi" in text
    assert "64Mi" in text
    assert "64.1Mi" in describe((64 << 20) + 100_000, 64 << 20)  # not "used 64Mi, past 64Mi"
    assert "resources.memory" in text


def test_a_process_that_allocates_is_measured_so_and_a_fork_is_not_counted_twice() -> None:
    code = (
        "import os, sys, time\n"
        "x = bytearray(64 << 20)\n"  # touched: bytearray zero-fills
        "pid = os.fork()\n"
        "if pid:\n"
        "    print(pid, flush=True)\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        parent_use, child_use = used_bytes(proc.pid), used_bytes(child)
        assert parent_use >= 32 << 20  # about half of the shared 64Mi each, and its own
        assert parent_use + child_use < 100 << 20  # shares: the 64Mi counts once, not twice
    finally:
        if child:
            os.kill(child, signal.SIGKILL)
        proc.kill()
        proc.wait()
    assert used_bytes(proc.pid) == 0  # gone


def test_this_process_is_measured() -> None:
    assert used_bytes(os.getpid()) > 0
