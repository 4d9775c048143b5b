"""`kindfleet check` refuses, before any check runs, what it could only fail on at the end:
an empty `--suite` ran every suite (the failover drills too, minutes of faults) and a
`--junit` that is a directory failed after them all as "a bug", the results lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from kindfleet.cli import output


@pytest.mark.parametrize("suite", ["", ",", " , "])
def test_a_suite_option_that_names_no_suite_is_refused(cli, suite):
    result = cli("check", "--suite", suite, "-f", "no-such-fleet.yaml")
    assert result.code == 2, result.err
    assert "names no suite" in result.err and "leave --suite out" in result.err


def test_a_junit_path_no_file_can_be_written_to_is_refused_first(cli, tmp_path):
    for path, says in (
        (tmp_path, "is a directory"),
        (Path("/proc/nope/x.xml"), "cannot make /proc/nope"),
        (Path("/etc/passwd/x.xml"), "cannot make /etc/passwd"),
    ):
        result = cli("check", "--junit", str(path), "-f", "no-such-fleet.yaml")
        assert result.code == 2, result.err
        assert f"--junit {path}" in result.err and says in result.err


def test_a_result_file_that_cannot_be_written_is_said_not_raised(tmp_path, capsys):
    assert output.write_file(tmp_path / "a" / "b.xml", "<x/>", "--junit")
    assert (tmp_path / "a" / "b.xml").read_text() == "<x/>"
    assert not output.write_file(tmp_path, "<x/>", "--junit")  # a directory by now
    assert f"--junit {tmp_path}: cannot write it" in capsys.readouterr().err


@pytest.mark.parametrize(
    "words",
    [
        ["up", "--wait"],
        ["matrix", "--wait"],
        ["deploy", "--timeout"],
        ["load", "--rate"],
    ],
)
@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf", "1e400", "soon"])
def test_a_number_option_no_wait_can_have_is_refused_before_anything_starts(cli, words, value):
    """Found from outside: `up --wait nan` started every cluster, then removed each as
    "did not become ready within nans" (exit 1)."""
    result = cli(*words, value, "-f", "/nonexistent/fleet.yaml")
    assert result.code == 2, result.err
    assert f"{words[-1]} '{value}' is not a number of" in result.err
    assert "does not exist" not in result.err  # said before the fleet file is even read
