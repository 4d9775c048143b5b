"""What a local spoke runs with, against what its fleet file says: every setting of its
agent is compared, said in words, and an unkept or unreadable record claims nothing."""

from __future__ import annotations

import json

import pytest

from kindfleet.fleetspec import from_text
from kindfleet.providers.local import declared

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: d
provider: local
spokes:
  - name: d-a
    labels: {{pool: {pool}}}
    capacity: {{cpu: {cpu}, memory: 1Gi, gpu: {gpu}}}
"""


def _spoke(pool: str = "cpu", cpu: str = "1", gpu: int = 0):
    return from_text(FLEET.format(pool=pool, cpu=cpu, gpu=gpu)).cluster("d-a")


def test_the_same_file_is_no_difference():
    assert declared.differences(declared.settings(_spoke()), declared.settings(_spoke())) == ""


@pytest.mark.parametrize(
    ("edited", "says"),
    [
        (_spoke(pool="gpu"), "runs with labels pool=cpu, the file says pool=gpu"),
        (_spoke(cpu="2"), "runs with cpu 1, the file says 2"),
        (_spoke(gpu=1), "runs with GPUs 0, the file says 1"),
    ],
)
def test_each_edit_is_said(edited, says):
    said = declared.differences(declared.settings(_spoke()), declared.settings(edited))
    assert says in said, said


def test_the_flags_carry_every_setting():
    flags = declared.agent_flags(declared.settings(_spoke(pool="gpu", cpu="2", gpu=1)))
    pairs = dict(zip(flags[::2], flags[1::2], strict=True))
    assert "pool=gpu" in pairs["--labels"].split(",")
    assert (pairs["--cpu"], pairs["--gpus"], pairs["--memory"]) == ("2.0", "1", "1Gi")


def _kept(**change):
    return json.dumps({**declared.settings(_spoke()), **change})


@pytest.mark.parametrize(
    "text",
    [
        None,
        "{",
        "[]",
        '{"labels": {}}',
        json.dumps({"x": 1}),
        _kept(labels=5),
        _kept(labels={"a": 1}),
        _kept(cpu_millis="1000"),
        _kept(run_memory_limits="yes"),
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_an_unkept_or_unreadable_record_claims_nothing(tmp_path, text):
    if text is not None:
        (tmp_path / declared.DECLARED).write_text(text)
    assert declared.read(tmp_path) is None


def test_a_kept_record_reads_back(tmp_path):
    settings = declared.settings(_spoke())
    (tmp_path / declared.DECLARED).write_text(json.dumps(settings))
    assert declared.read(tmp_path) == settings
