"""A command whose stdout's reader goes (`| head -1`) or was never there (`>&-`): no
failure of the command, which goes on to its own end and its own exit code, in silence.
Processes of their own, with real pipes and a really closed descriptor."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tests.conftest import EXAMPLES

from kindfleet.exec import Command, stream

KINDFLEET = [sys.executable, "-m", "kindfleet"]
# Output longer than a pipe holds: the writes after the reader went are sure to fail.
LONG = [*KINDFLEET, "render", "-f", str(EXAMPLES / "article.yaml"), "-o", "json"]


def _said(argv: list[str]) -> str:
    """What `argv` says on stderr with a stdout that takes everything: its notes, if any."""
    done = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def _reader_gone_at_once(argv: list[str]) -> tuple[int, str]:
    """Exit code and stderr of `argv` whose stdout is a pipe nobody reads from."""
    read, write = os.pipe()
    os.close(read)  # gone before the first write
    try:
        done = subprocess.run(argv, stdout=write, stderr=subprocess.PIPE, text=True, check=False)
    finally:
        os.close(write)
    return done.returncode, done.stderr


@pytest.mark.parametrize("argv", [[*KINDFLEET, "version"], LONG], ids=["version", "render"])
def test_a_reader_that_went_is_no_failure(argv: list[str]) -> None:
    code, err = _reader_gone_at_once(argv)
    assert (code, err) == (0, _said(argv))


def test_a_reader_that_reads_a_little_then_goes() -> None:
    with subprocess.Popen(LONG, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(1) == b"["
        proc.stdout.close()
        err = proc.stderr.read()
    assert (proc.returncode, err.decode()) == (0, _said(LONG))


@pytest.mark.parametrize("command", ["version", "validate"])
def test_a_closed_stdout_is_no_failure(command: str) -> None:
    argv = [*KINDFLEET, command] + (
        ["-f", str(EXAMPLES / "article.yaml")] if command == "validate" else []
    )
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *argv], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, _said(argv))


def test_a_follower_the_reader_left_ends_as_if_done() -> None:
    """`kubectl logs --follow`, killed by SIGPIPE once `| head` is done: not a failure."""
    code = (
        "import sys\n"
        "from kindfleet.exec import Command, stream\n"
        "sys.exit(stream(Command(('yes',))))\n"
    )
    read, write = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=write)
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as reader:
        assert reader.read(2) == b"y\n"
    assert proc.wait(timeout=60) == 0
    assert stream(Command(("sh", "-c", "exit 3"))) == 3  # its own end is still its own
