"""The platform commands as a user types them, against a real local fleet."""

from __future__ import annotations

import json
import sys
import time

import pytest
from tests.conftest import EXAMPLES
from tests.integration.platform.conftest import FLEET

pytestmark = pytest.mark.slow


@pytest.fixture
def fleet_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    return path


def _wait_state(cli, fleet_file, workload, states, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        data = json.loads(cli("workloads", workload, "-f", str(fleet_file), "-o", "json").out)
        if data["state"] in states or time.monotonic() > deadline:
            return data
        time.sleep(0.2)


def test_submit_list_logs_explain_cancel_telemetry(cli, fleet_file):
    f = ["-f", str(fleet_file)]
    up = cli("up", *f)
    assert up.code == 0, up.err
    try:
        result = cli(
            "submit",
            *f,
            "-n",
            "hello",
            "--selector",
            "pool=cpu",
            "-o",
            "json",
            "--",
            sys.executable,
            "-c",
            "import os; print('hi from', os.environ['KINDFLEET_GENERATION']); print('bye')",
        )
        assert result.code == 0, result.err
        hello = json.loads(result.out)[0]["workload"]["id"]
        assert _wait_state(cli, fleet_file, hello, {"Succeeded"})["state"] == "Succeeded"
        assert cli("logs", hello, *f).out == "hi from 1\nbye\n"
        assert cli("logs", hello, *f, "--tail", "1").out == "bye\n"  # kubectl's habit
        refused = cli("logs", hello, *f, "--tail", "-1")
        assert refused.code == 2
        assert "--tail" in refused.err

        again = cli("submit", *f, "-n", "hello", "--key", "k1", "-o", "json", "--", "true")
        twice = cli("submit", *f, "-n", "hello", "--key", "k1", "-o", "json", "--", "true")
        assert json.loads(twice.out)[0]["created"] is False
        assert (
            json.loads(again.out)[0]["workload"]["id"] == json.loads(twice.out)[0]["workload"]["id"]
        )

        stuck = json.loads(
            cli("submit", *f, "-n", "needs-gpu", "--gpu", "1", "-o", "json", "--", "true").out
        )
        stuck_id = stuck[0]["workload"]["id"]
        explain = cli("explain", stuck_id, *f)
        assert explain.code == 0
        assert "needs 1 GPUs, 0 free" in explain.out or "GPU" in explain.out
        assert "queue position 1" in explain.out

        table = cli("workloads", *f)
        assert "needs-gpu" in table.out
        assert "Pending" in table.out
        tagged = cli("submit", *f, "-n", "tagged", "-l", "team=vision", "-o", "json", "--", "true")
        tagged_id = json.loads(tagged.out)[0]["workload"]["id"]
        found = json.loads(cli("workloads", *f, "-l", "team=vision", "-o", "json").out)
        assert [w["id"] for w in found] == [tagged_id]
        assert json.loads(cli("workloads", *f, "-l", "team=nobody", "-o", "json").out) == []
        assert cli("workloads", *f, "-l", "team").code == 2  # not KEY=VALUE: named, no call
        cancelled = cli("cancel", stuck_id, *f)
        assert cancelled.code == 0
        assert "cancelled" in cancelled.err
        assert _wait_state(cli, fleet_file, stuck_id, {"Cancelled"})["state"] == "Cancelled"
        assert cli("cancel", stuck_id, *f).code != 0  # already final: refused, not a crash

        deadline = time.monotonic() + 10  # spokes report every couple of seconds
        while not (series := json.loads(cli("telemetry", *f, "-o", "json").out)):
            assert time.monotonic() < deadline, "no telemetry arrived"
            time.sleep(0.3)
        assert {s["spoke"] for s in series} <= {"drill-a", "drill-b", "drill-c"}
        assert "running" in series[0]["points"][0]["metrics"]

        missing = cli("workloads", "wl-nope", *f)
        assert missing.code == 2
        assert "Traceback" not in missing.err
        bad = cli("submit", *f, "-n", "Bad_Name", "--", "true")
        assert bad.code == 2
        assert "name" in bad.err

        # What a run said, quoted in the answers, is shown as written: "[red]" was taken
        # for markup (and "[/x]" was a MarkupError: "this is a bug"), an escape for the
        # terminal's.
        odd = json.loads(cli("submit", *f, "-n", "odd", "-o", "json", "--", "[red]\x1b[2J").out)
        odd_id = odd[0]["workload"]["id"]
        assert _wait_state(cli, fleet_file, odd_id, {"Failed"})["state"] == "Failed"
        said = cli("explain", odd_id, *f)
        assert said.code == 0, said.err
        assert "command not found: [red]\\x1b[2J" in said.out
        assert "\x1b" not in said.out
    finally:
        assert cli("down", *f).code == 0
    after = cli("workloads", *f)
    assert after.code == 3
    assert "kindfleet up" in after.err


def test_the_articles_kind_fleet_runs_as_local_processes_with_provider_override(
    cli, tmp_path, monkeypatch
):
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    article = str(EXAMPLES / "article.yaml")
    up = cli("--provider", "local", "up", "-f", article)
    try:
        assert up.code == 0, up.err
        status = cli("--provider", "local", "status", "-f", article, "-o", "json")
        clusters = json.loads(status.out)["clusters"]
        assert {c["name"] for c in clusters} == {
            "platform-hub",
            "platform-spoke1",
            "platform-spoke2",
            "platform-spoke3",
        }
        assert all(c["ready"] for c in clusters)
        gpu = cli(
            "--provider",
            "local",
            "submit",
            "-f",
            article,
            "-n",
            "gpu",
            "--gpu",
            "2",
            "--selector",
            "gpu=true",
            "-o",
            "json",
            "--",
            "true",
        )
        assert gpu.code == 0, gpu.err  # the spokes' GPU workers (2 each) became capacity
        wid = json.loads(gpu.out)[0]["workload"]["id"]
        deadline = time.monotonic() + 20
        while (
            state := json.loads(
                cli("--provider", "local", "workloads", wid, "-f", article, "-o", "json").out
            )["state"]
        ) != "Succeeded":
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
    finally:
        assert cli("--provider", "local", "down", "-f", article).code == 0
