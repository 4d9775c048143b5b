"""Hostile fleet files through `kindfleet validate` and `render`, each in its own process:
a clean answer (exit 0, or exit 2 with a message naming the problem), never a traceback,
never "a bug", within time and memory bounds."""

import os
import signal
import subprocess
import sys
import time

import pytest
from tests.integration.cli.hostile import CORPUS, CRASHED, content, run_cli, run_in_child

# Every file through validate; render reads files the same way, so the big ones (seconds
# each) go through validate only.
COMMANDS = [["validate"], ["render"], ["render", "-o", "json"]]
BIG = {"spokes-5mb", "long-line-5mb", "keys-100k", "same-key-100k"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, case in CORPUS.items():
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_bytes(content(case))
    return paths


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_file_gets_a_clean_answer(corpus, name):
    _make, expected, words = CORPUS[name]
    for command in COMMANDS[:1] if name in BIG else COMMANDS:
        run = run_cli([*command, "-f", str(corpus[name])])
        where = f"{name}: kindfleet {' '.join(command)}"
        assert run.code != CRASHED and run.code >= 0, f"{where} crashed or hung:\n{run.err}"
        assert "Traceback" not in run.err and "this is a bug" not in run.err, (where, run.err)
        assert run.code == expected, (where, run.code, run.err[-2000:])
        assert run.seconds < 30, (where, run.seconds)
        if expected == 2:
            assert run.out == "", where  # errors on stderr only
            assert run.err.startswith("error: "), (where, run.err[:300])
            assert len(run.err) < 20_000, (where, len(run.err))  # capped, one line per cause
            if words:
                assert words in run.err, (where, run.err[-2000:])
    assert not os.path.exists("/tmp/kf-pwned")


@pytest.mark.parametrize("name", ["billion-laughs", "nesting-100k", "binary-random"])
def test_the_worst_through_the_installed_command(corpus, name):
    """The same through `python -m kindfleet`, as a user runs it (a real exec, not a fork)."""
    _make, expected, words = CORPUS[name]
    done = subprocess.run(
        [sys.executable, "-m", "kindfleet", "validate", "-f", str(corpus[name])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == expected, done.stderr
    assert "Traceback" not in done.stderr
    assert words is None or words in done.stderr


def test_the_runner_sees_crashes_hangs_and_runaway_memory():
    """The harness itself must report what it exists to catch."""
    assert run_in_child(lambda: time.sleep(30), timeout=0.5).code == -signal.SIGKILL
    crash = run_in_child(lambda: {}["missing"])
    assert crash.code == CRASHED and "KeyError" in crash.err
    assert run_in_child(lambda: bytearray(4 * 2**30), memory=2**28).code == CRASHED
    assert run_cli(["validate", "-f", "/nonexistent"]).code == 2
