"""The one process runner: real child processes, errors that show the command, Ctrl-C."""

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from kindfleet.exec import (
    CommandError,
    CommandNotFound,
    CommandTimeout,
    Interrupted,
    ProcessRunner,
    cmd,
    stream,
)


def test_shell_line_is_pasteable():
    assert cmd("kind", "get", "nodes", "--name", "a b").shell() == "kind get nodes --name 'a b'"
    assert cmd("x", env={"B": "2 3", "A": "1"}).shell() == "A=1 B='2 3' x"
    heredoc = cmd("kind", "create", "cluster", "--config=-", stdin="kind: Cluster\n").shell()
    assert heredoc == "kind create cluster --config=- <<'EOF'\nkind: Cluster\nEOF"
    big = cmd("kubectl", "apply", "-f", "-", stdin="x" * 10000).shell()
    assert big == "kubectl apply -f -  # with 10000 bytes on stdin"


def test_runs_with_stdin_and_extra_env():
    runner = ProcessRunner()
    result = runner.run(
        cmd("sh", "-c", 'cat; echo "$KF_X"; echo err >&2', stdin="in\n", env={"KF_X": "y"})
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "in\ny\n", "err\n")
    assert result.output == "in\ny\nerr"


def test_failure_carries_command_and_output():
    runner = ProcessRunner()
    with pytest.raises(CommandError) as caught:
        runner.run(cmd("sh", "-c", "echo out; echo 'ERROR: boom' >&2; exit 3"))
    error = caught.value
    assert error.result.returncode == 3
    assert (
        "`sh -c 'echo out; echo '\"'\"'ERROR: boom'\"'\"' >&2; exit 3'` exited 3" in error.message
    )
    assert error.message.endswith("    out\n    ERROR: boom")
    assert runner.run(cmd("false"), check=False).returncode == 1


def test_missing_program():
    with pytest.raises(CommandNotFound) as caught:
        ProcessRunner().run(cmd("kindfleet-no-such-program", "x"))
    assert caught.value.message == "kindfleet-no-such-program not found on PATH"
    assert caught.value.exit_code == 3


def _alive(*cmdlines):
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        line = " ".join(proc.info["cmdline"] or [])
        if line in cmdlines and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(line)
    return found


def test_timeout_kills_the_whole_process_group():
    background, foreground = f"sleep {os.getpid()}.25", f"sleep {os.getpid()}.75"
    with pytest.raises(CommandTimeout, match=r"timed out after 0\.5s"):
        ProcessRunner().run(cmd("sh", "-c", f"{background} & {foreground}", timeout=0.5))
    deadline = time.monotonic() + 3
    while _alive(background, foreground) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(background, foreground) == []


def test_interrupt_kills_what_runs_and_refuses_more_until_resumed():
    runner = ProcessRunner()
    started = time.monotonic()
    thread, caught = _running(runner, cmd("sleep", "30"))
    time.sleep(0.3)
    runner.interrupt()
    thread.join(5)
    assert time.monotonic() - started < 5
    assert isinstance(caught[0], Interrupted)
    with pytest.raises(Interrupted):
        runner.run(cmd("true"))
    runner.resume()
    assert runner.run(cmd("true")).ok


def test_an_interrupt_while_a_command_starts_still_stops_it():
    """The interrupt lands after `run` checked for one and before the child is known to be
    live (a slow start, a starved CPU): the child must not be left to run its course."""
    entered, go = threading.Event(), threading.Event()

    class SlowStart(ProcessRunner):
        def _start(self, command):
            entered.set()
            go.wait(10)
            return super()._start(command)

    runner = SlowStart()
    thread, caught = _running(runner, cmd("sleep", "30"))
    assert entered.wait(10)
    runner.interrupt()
    go.set()
    thread.join(15)
    assert not thread.is_alive(), "the command ran on after the interrupt"
    assert isinstance(caught[0], Interrupted)


def _running(runner, command):
    """`command` run by `runner` on a thread of its own; what it raised, once it has."""
    caught = []

    def work():
        try:
            runner.run(command)
        except Exception as exc:
            caught.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    return thread, caught


def test_failure_says_names_what_the_command_was_for():
    from kindfleet.exec import CommandError, Result, cmd, failure_says

    result = Result(cmd("false"), 1, "", "boom")
    with pytest.raises(CommandError) as caught, failure_says("could not x", hint="do y"):
        raise CommandError(result)
    assert caught.value.message.startswith("could not x: `false` exited 1")
    assert caught.value.hint == "do y"
    assert caught.value.result is result


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's"
)
def test_a_command_does_not_outlive_a_killed_kindfleet(tmp_path):
    """kill -9 of kindfleet: its `kind create` (here a sleep) gets SIGTERM, not an orphan's life."""
    pid_file = tmp_path / "child.pid"
    script = (
        "from kindfleet.exec import ProcessRunner, cmd\n"
        f"ProcessRunner().run(cmd('sh', '-c', 'echo $$ > {pid_file}; exec sleep 120'))\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 20
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.05)
        child = int(pid_file.read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _pid_alive(child):
            assert time.monotonic() < deadline, "the command outlived its kindfleet"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait()


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stream_gives_the_output_to_this_process_and_the_exit_code(capfd, tmp_path):
    err = (tmp_path / "err").open("w+b")
    code = stream(
        cmd(sys.executable, "-c", "import sys; print('out'); sys.exit('bad')"), stderr=err
    )
    assert code == 1
    assert capfd.readouterr().out == "out\n"  # this process's own stdout, not a pipe
    err.seek(0)
    assert err.read() == b"bad\n"


def test_stream_asks_a_follower_to_finish_when_told_to_stop(capfd):
    """`stop()` turns true: its stdin ends, which a log follower answers by giving out what
    is left and exiting."""
    follower = "import sys\nprint('first', flush=True)\nsys.stdin.read()\nprint('the rest')\n"
    asked = time.monotonic() + 1.5
    started = time.monotonic()
    code = stream(cmd(sys.executable, "-c", follower), stop=lambda: time.monotonic() > asked)
    assert code == 0
    assert capfd.readouterr().out == "first\nthe rest\n"
    assert time.monotonic() - started < 30  # not the 60 s it would sleep


def test_stream_says_when_the_program_is_missing():
    with pytest.raises(CommandNotFound):
        stream(cmd("no-such-program-kindfleet"))
