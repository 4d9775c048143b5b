"""`kindfleet submit --spec FILE` takes the workloads as the file has them: a flag that
would set one of their fields is refused, naming it, before any hub is asked."""

from __future__ import annotations

from pathlib import Path

import pytest

SPEC = "name: from-file\ncommand: [echo, hi]\n"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["-n", "other"], "--name"),
        (["--gpu", "3"], "--gpu"),
        (["--cpu", "100m"], "--cpu"),  # even the default's value, when given
        (["--lease-seconds", "30"], "--lease-seconds"),
        (["--pending-deadline", "5"], "--pending-deadline"),
        (["-l", "a=b"], "--label"),
        (["--", "echo", "hi"], "a command after --"),
    ],
)
def test_a_field_flag_beside_spec_is_refused(cli, tmp_path: Path, extra, named) -> None:
    spec = tmp_path / "w.yaml"
    spec.write_text(SPEC)
    fleet = tmp_path / "missing-fleet.yaml"  # never read: the refusal comes first
    result = cli("submit", "--spec", str(spec), "-f", str(fleet), *extra)
    assert result.code == 2
    assert "--spec takes the workloads as its file has them" in result.err
    assert named in result.err
    assert "does not exist" not in result.err


def test_spec_with_the_flags_it_allows_goes_on(cli, tmp_path: Path) -> None:
    spec = tmp_path / "w.yaml"
    spec.write_text(SPEC)
    fleet = tmp_path / "missing-fleet.yaml"
    result = cli("submit", "--spec", str(spec), "-f", str(fleet), "--key", "k1", "-o", "json")
    assert "--spec takes" not in result.err
    assert "does not exist" in result.err  # it went on, to the fleet file
