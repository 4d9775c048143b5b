"""spokectl, the agent's command line for tools outside it, run as the local provider runs
it (`python -m kindfleet.platform.agent.spokectl`): logs come out raw, and a log that a run
replaced by a symlink, a FIFO or a hard link is refused, never followed; reap kills what a
dead agent's runs left, and leaves a live agent's alone; forget-hub forgets the hub only
once the agent is stopped."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kindfleet.platform.agent import runlogs
from kindfleet.platform.agent.executors.process import procfs
from kindfleet.platform.agent.lock import StateLock


def spokectl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "kindfleet.platform.agent.spokectl", *args],
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def logs(state: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return spokectl("logs", "--state-dir", str(state), "--workload", "w/1", *extra)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    run = tmp_path / "state" / "runs" / "w_1-g2"
    run.mkdir(parents=True)
    (run / "stdout.log").write_bytes(b"line 1\n\x00\xffraw bytes\n")
    (run / "stderr.log").write_bytes(b"oops\n")
    return tmp_path / "state"


def test_logs_prints_the_raw_log(state: Path):
    out = logs(state, "--generation", "2")
    assert (out.returncode, out.stdout, out.stderr) == (0, b"line 1\n\x00\xffraw bytes\n", b"")
    assert logs(state, "--generation", "2", "--stream", "stderr").stdout == b"oops\n"


def test_a_rotated_log_shows_its_newest_copy_first(state: Path):
    """The run's last words went to the copy when its log was rotated just before it ended:
    `kindfleet logs` printed an empty log."""
    run = state / "runs" / "w_1-g2"
    (run / "stdout.log.1").write_bytes(b"earlier\nthe traceback\n")
    (run / "stdout.log.2").write_bytes(b"much earlier\n")  # older copies: only in the folder
    (run / "stdout.log").write_bytes(b"")
    assert logs(state, "--generation", "2").stdout == b"earlier\nthe traceback\n"
    (run / "stdout.log").write_bytes(b"after\n")
    assert logs(state, "--generation", "2").stdout == b"earlier\nthe traceback\nafter\n"
    (run / "stdout.log.1").unlink()
    (run / "stdout.log.1").symlink_to(run / "stderr.log")  # a copy is not followed either
    assert logs(state, "--generation", "2").stdout == b"after\n"


def test_a_run_or_log_that_is_not_there_is_one_line_and_exit_2(state: Path):
    out = logs(state, "--generation", "3")
    assert out.returncode == 2
    [line] = out.stderr.decode().splitlines()
    assert line.startswith(f"error: no run of workload w/1 generation 3 in {state} (")
    assert "--run-retention-seconds" in line  # why a run that did exist may be gone
    (state / "runs" / "w_1-g2" / "stderr.log").unlink()
    out = logs(state, "--generation", "2", "--stream", "stderr")
    assert (out.returncode, out.stdout) == (2, b"")
    assert out.stderr.decode().count("\n") == 1


def test_a_log_replaced_by_a_symlink_is_not_followed(state: Path, tmp_path: Path):
    secret = tmp_path / "client-token"
    secret.write_text("the-client-token")
    log = state / "runs" / "w_1-g2" / "stdout.log"
    log.unlink()
    log.symlink_to(secret)
    out = logs(state, "--generation", "2")
    assert out.returncode == 2
    assert b"the-client-token" not in out.stdout + out.stderr


def test_a_run_directory_replaced_by_a_symlink_is_not_followed(state: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "stdout.log").write_text("the-client-token")
    run = state / "runs" / "w_1-g3"
    run.symlink_to(elsewhere)
    out = logs(state, "--generation", "3")
    assert out.returncode == 2
    assert b"the-client-token" not in out.stdout + out.stderr


def test_a_fifo_or_a_hard_link_is_refused_without_blocking(state: Path, tmp_path: Path):
    log = state / "runs" / "w_1-g2" / "stdout.log"
    log.unlink()
    os.mkfifo(log)
    out = logs(state, "--generation", "2")  # a blocking open would hang (until the timeout)
    assert out.returncode == 2
    log.unlink()
    secret = tmp_path / "client-token"
    secret.write_text("the-client-token")
    os.link(secret, log)
    out = logs(state, "--generation", "2")
    assert out.returncode == 2
    assert b"the-client-token" not in out.stdout


def test_reap_leaves_a_live_agents_runs_alone_and_kills_a_dead_ones(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    keeper = subprocess.Popen(["sleep", "60"], start_new_session=True)  # a keeper's session
    try:
        (state / "keepers").write_text(f"keeper {keeper.pid} {procfs.start_of(keeper.pid)}\n")
        lock = StateLock(state)
        assert lock.try_acquire()  # a live agent
        out = spokectl("reap", "--state-dir", str(state))
        assert (out.returncode, out.stdout) == (0, b"")
        assert keeper.poll() is None
        lock.release()  # the agent is dead
        out = spokectl("reap", "--state-dir", str(state))
        assert (out.returncode, out.stdout.decode()) == (0, f"{keeper.pid}\n")
        assert keeper.wait(5) == -9
        assert spokectl("reap", "--state-dir", str(state)).stdout == b""  # nothing left
    finally:
        keeper.kill()
        keeper.wait()


def test_forget_hub_waits_for_the_agent_to_stop_then_forgets_store_and_credential(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    for name in ("hub-store", "credential", "agent.db"):
        (state / name).write_text("x")
    lock = StateLock(state)
    assert lock.try_acquire()  # a live agent: its hub is not forgotten under it
    out = spokectl("forget-hub", "--state-dir", str(state))
    assert out.returncode == 1 and b"stop it first" in out.stderr
    assert (state / "hub-store").exists()
    lock.release()
    out = spokectl("forget-hub", "--state-dir", str(state))
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in state.iterdir() if p.name != "agent.lock") == ["agent.db"]
    assert b"forgot hub-store, credential" in out.stdout


def test_spokectl_starts_without_the_agents_stack(state: Path):
    code = (
        "import sys, runpy; sys.argv = ['spokectl', 'logs', '--state-dir', sys.argv[1],"
        " '--workload', 'w/1', '--generation', '2'];"
        "\ntry:\n    runpy.run_module('kindfleet.platform.agent.spokectl', run_name='__main__')"
        "\nexcept SystemExit:\n    pass"
        "\nheavy = [m for m in sys.modules if m.split('.')[0] in"
        " ('pydantic', 'httpx2', 'psutil', 'sqlite3', 'asyncio', 'kubernetes_asyncio')"
        " or m in ('kindfleet.fleet', 'kindfleet.platform.wire')]"
        "\nprint('heavy', heavy, file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(state)], capture_output=True, timeout=20, check=False
    )
    assert out.stderr.decode().strip().splitlines()[-1] == "heavy []"


def test_tail_gives_the_last_lines_across_the_rotated_copy(state: Path):
    run = state / "runs" / "w_1-g2"
    (run / "stdout.log.1").write_bytes(b"".join(b"c%d\n" % i for i in range(5)))
    (run / "stdout.log").write_bytes(b"l0\nl1\n")
    assert logs(state, "--generation", "2", "--tail", "3").stdout == b"c4\nl0\nl1\n"
    assert logs(state, "--generation", "2", "--tail", "0").stdout == b""
    (run / "stdout.log").write_bytes(b"".join(b"%d\n" % i for i in range(100_000)))  # chunks
    assert logs(state, "--generation", "2", "--tail", "2").stdout == b"99998\n99999\n"


def test_a_log_of_any_size_is_given_out_within_a_bound(state: Path):
    """Found from outside: a run replaced its log with a sparse file of 64 GiB (no disk
    used, one link, its owner's): `--tail 3` read it back towards its start until memory
    ran out (no newline in zeros), and a plain `logs` streamed all of it into `kindfleet
    logs`, which held it in memory. Each file gives out its last READ_MAX bytes at most."""
    log = state / "runs" / "w_1-g2" / "stdout.log"
    with open(log, "wb") as f:
        f.truncate(64 << 30)  # a hole: 64 GiB that take no disk
        f.seek(0, os.SEEK_END)
        f.write(b"last line\n")
    tail = logs(state, "--generation", "2", "--tail", "3")
    assert tail.returncode == 0 and tail.stdout.endswith(b"last line\n")
    assert len(tail.stdout) <= runlogs.READ_MAX
    whole = logs(state, "--generation", "2")
    assert whole.returncode == 0
    assert whole.stdout == b"last line\n"  # of its last 64 MiB, only what was written
    assert b"only its last 64 MiB are given out" in whole.stderr


def test_what_a_writer_that_does_not_append_skipped_is_not_given_out(state: Path):
    """Found from outside: a run that writes at its own offset goes on there after a
    rotation empties its log, and the megabytes before it (a hole: never written, no
    disk) were given out as zeros, 12 MB of NULs for 1,837 lines."""
    log = state / "runs" / "w_1-g2" / "stdout.log"
    with open(log, "wb") as f:
        f.truncate(12 << 20)  # where the run's offset was when its log was emptied
        f.seek(0, os.SEEK_END)
        f.write(b"".join(b"line %d\n" % i for i in range(1000)))
    written = b"".join(b"line %d\n" % i for i in range(1000))
    whole = logs(state, "--generation", "2")
    assert (whole.returncode, whole.stdout) == (0, written)
    tail = logs(state, "--generation", "2", "--tail", "2000")  # more than there are
    assert (tail.returncode, tail.stdout) == (0, written)


def test_follow_prints_what_the_run_writes_across_a_rotation_until_sigterm(state: Path):
    log = state / "runs" / "w_1-g2" / "stdout.log"
    log.write_bytes(b"before\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kindfleet.platform.agent.spokectl", "logs", "--state-dir",
         str(state), "--workload", "w/1", "--generation", "2", "--follow"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    lines: queue.Queue[bytes] = queue.Queue()
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
    reader.start()
    try:
        assert lines.get(timeout=20) == b"before\n"
        fd = os.open(log, os.O_WRONLY | os.O_APPEND)  # as the run writes it
        try:
            os.write(fd, b"one\n")
            assert lines.get(timeout=20) == b"one\n"
            os.ftruncate(fd, 0)  # its keeper rotates it
            os.write(fd, b"two\n")
            assert lines.get(timeout=20) == b"two\n"
            os.write(fd, b"last\n")
        finally:
            os.close(fd)
        proc.send_signal(signal.SIGTERM)  # what was written before is still given out
        assert proc.wait(20) == 0
        reader.join(20)
        assert lines.get_nowait() == b"last\n"
    finally:
        proc.kill()


def test_follow_with_stdout_closed_ends_as_usual(state: Path):
    """`kindfleet logs ID --follow >&-`: spokectl started with no descriptor 1 failed with
    "'NoneType' object has no attribute 'fileno'"."""
    argv = [sys.executable, "-m", "kindfleet.platform.agent.spokectl", "logs", "--state-dir",
            str(state), "--workload", "w/1", "--generation", "2", "--follow", "--until-eof"]  # fmt: skip
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *argv],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, b"")
