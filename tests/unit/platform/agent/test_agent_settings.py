"""The agent's command line: the flags the local runtime uses, and bad input as exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from kindfleet.errors import UsageError
from kindfleet.platform.agent.__main__ import main
from kindfleet.platform.agent.settings import parse_args, parse_labels

BASE = ["--hub", "http://127.0.0.1:9", "--name", "spoke1", "--state-dir", "/tmp/s"]


def test_the_runtime_flags(tmp_path: Path):
    s = parse_args(
        [
            *BASE,
            "--bootstrap-token-file",
            "/tmp/t",
            "--labels",
            "gpu=true, region=eu",
            "--cpu",
            "500m",
            "--memory",
            "2Gi",
            "--gpus",
            "2",
            "--executor",
            "process",
            "--telemetry-seconds",
            "5",
            "--log-file",
            "/tmp/a.log",
            "--log-level",
            "debug",
        ]
    )
    assert s.labels == {"gpu": "true", "region": "eu"}
    assert (s.capacity.cpu_millis, s.capacity.memory_bytes, s.capacity.gpus) == (500, 2 << 30, 2)
    assert s.telemetry_seconds == 5
    assert s.log_file == Path("/tmp/a.log")
    assert s.db_path == Path("/tmp/s/agent.db")


def test_defaults():
    s = parse_args([*BASE, "--bootstrap-token-file", "/tmp/t"])
    assert s.capacity.cpu_millis == 4000
    assert s.capacity.memory_bytes == 8 << 30
    assert s.capacity.gpus == 0
    assert s.executor == "process"
    assert s.telemetry_seconds == 2.0
    assert s.run_retention_seconds == 86_400
    assert (s.run_log_max_bytes, s.run_log_max_files) == (10 << 20, 5)  # the kubelet's


def test_a_run_logs_cap():
    s = parse_args(
        [*BASE, "--bootstrap-token-file", "/tmp/t", "--run-log-max-size", "64Ki",
         "--run-log-max-files", "2"]
    )  # fmt: skip
    assert (s.run_log_max_bytes, s.run_log_max_files) == (64 << 10, 2)
    off = parse_args([*BASE, "--bootstrap-token-file", "/tmp/t", "--run-log-max-size", "0"])
    assert off.run_log_max_bytes == 0


def test_run_retention_zero_keeps_every_run():
    s = parse_args([*BASE, "--bootstrap-token-file", "/tmp/t", "--run-retention-seconds", "0"])
    assert s.run_retention_seconds == 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--name", "Spoke_1"], "DNS-1123"),
        (["--name", "spoke1\n"], "DNS-1123"),  # Python's `$` lets a final newline through
        (["--cpu", "lots"], "cpu"),
        (["--labels", "novalue"], "key=value"),
        (["--telemetry-seconds", "0"], "telemetry-seconds"),
        (["--run-retention-seconds", "-1"], "run-retention-seconds must be 0"),
        (["--run-retention-seconds", "nan"], "run-retention-seconds must be 0"),
        (["--run-log-max-size", "big"], "--run-log-max-size 'big' is not a size"),
        (["--run-log-max-size=-1Mi"], "--run-log-max-size '-1Mi' is not a size"),
        (["--run-log-max-size", "100"], "below 16Ki"),
        (["--run-log-max-files", "0"], "--run-log-max-files must be from 1 to 100, not 0"),
        (["--run-log-max-files", "1000000"], "--run-log-max-files must be from 1 to 100"),
    ],
)
def test_bad_values_are_usage_errors(flags, message):
    with pytest.raises(UsageError, match=message):
        parse_args([*BASE, "--bootstrap-token-file", "/tmp/t", *flags])


def test_labels():
    assert parse_labels("") == {}
    assert parse_labels("a=1,b=") == {"a": "1", "b": ""}


def test_main_exits_2_on_bad_input_without_a_traceback(tmp_path: Path, capsys):
    missing = tmp_path / "no-token"
    assert main([*BASE, "--bootstrap-token-file", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert "Traceback" not in err
    token = tmp_path / "token"
    token.write_text("t")
    missing_config = ["--executor", "kubernetes", "--kubeconfig", str(tmp_path / "nope")]
    assert main([*BASE, "--bootstrap-token-file", str(token), *missing_config]) == 2
    assert "does not exist" in capsys.readouterr().err
