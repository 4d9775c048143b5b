"""Background processes of the local runtime: found by pid file, stopped for sure, and a
stale pid file never gets a stranger signalled."""

from __future__ import annotations

import os
import sys
import time

import psutil

from kindfleet.providers.local import processes

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
POLITE = "import time; time.sleep(60)"


def _spawn(tmp_path, code):
    pidfile = tmp_path / "pid"
    handle = processes.spawn(
        [sys.executable, "-c", code], pidfile=pidfile, logfile=tmp_path / "log"
    )
    return pidfile, handle


def test_spawn_records_pid_and_start_time(tmp_path):
    pidfile, handle = _spawn(tmp_path, POLITE)
    try:
        assert processes.read_pidfile(pidfile) == handle
        assert processes.running(pidfile) == handle
        assert os.getsid(handle.pid) == handle.pid  # its own session: survives our terminal
    finally:
        processes.stop(pidfile)


def test_stop_is_graceful_first(tmp_path):
    pidfile, handle = _spawn(tmp_path, POLITE)
    started = time.monotonic()
    assert processes.stop(pidfile, grace_seconds=10) is True
    assert time.monotonic() - started < 5  # SIGTERM was enough
    assert not processes.alive(handle)
    assert not pidfile.exists()


def test_stop_is_for_sure_when_sigterm_is_ignored(tmp_path):
    pidfile, handle = _spawn(tmp_path, STUBBORN)
    time.sleep(0.5)  # let it install its handler
    started = time.monotonic()
    assert processes.stop(pidfile, grace_seconds=1) is True
    assert 1 <= time.monotonic() - started < 6
    assert not processes.alive(handle)


def test_a_stale_pid_file_never_signals_a_stranger(tmp_path):
    stranger = psutil.Process(os.getpid())  # this test process: a live pid that is not ours
    pidfile = tmp_path / "pid"
    processes.write_pidfile(pidfile, processes.Handle(stranger.pid, stranger.create_time() - 100))
    assert processes.running(pidfile) is None
    assert processes.stop(pidfile) is False  # we are still here to assert it
    assert processes.kill(pidfile) is False
    assert not pidfile.exists()


def test_kill_is_immediate(tmp_path):
    pidfile, handle = _spawn(tmp_path, STUBBORN)
    assert processes.kill(pidfile) is True
    assert not processes.alive(handle)
    processes.stop(pidfile)


def test_rss_counts_children(tmp_path):
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    pidfile, handle = _spawn(tmp_path, code)
    try:
        deadline = time.monotonic() + 10
        while not psutil.Process(handle.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        own = psutil.Process(handle.pid).memory_info().rss
        assert (processes.rss_bytes(handle) or 0) > own
    finally:
        processes.stop(pidfile)  # the group goes with it
