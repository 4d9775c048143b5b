"""A real agent process against the hub double over real HTTP: registration, dispatch, the
process executor's results, GPU ids, cancel, timeout, fencing, and what leaves the spoke."""

from __future__ import annotations

import json
import stat
import time

from agent_it_helpers import gone, py, spec, wait_until

from kindfleet.platform.wire import EventType

SUCCESS = """
import os, pathlib
print("LOG-LINE-7f3a the model is training")
pathlib.Path(os.environ["KINDFLEET_OUTPUT_DIR"], "model.bin").write_text("WEIGHTS-91c2")
"""


def _types(hub, wid):
    return [e.type for e in hub.double.status_events(wid)]


def _terminal(hub, wid):
    return lambda: hub.double.workload(wid).state in {"Succeeded", "Failed", "Cancelled"}


def test_registers_once_and_reuses_its_credential_across_restarts(hub, start_agent):
    agent = start_agent()
    wait_until(lambda: hub.double.spokes.get("spoke1"), what="registration")
    wait_until(lambda: hub.double.spokes["spoke1"].heartbeats >= 2, what="heartbeats")
    cred = agent.state_dir / "credential"
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    assert cred.read_text() == hub.double.credentials["spoke1"]
    assert agent.terminate() == 0

    agent.start()
    before = hub.double.spokes["spoke1"].heartbeats
    wait_until(lambda: hub.double.spokes["spoke1"].heartbeats >= before + 2, what="heartbeats")
    assert hub.double.spokes["spoke1"].registrations == 1  # the stored credential was reused

    hub.double.revoke("spoke1")  # 401 from now on: the agent registers again
    wait_until(lambda: hub.double.spokes["spoke1"].registrations == 2, what="re-registration")
    wait_until(  # the file is replaced, never seen half-written (it may be absent a moment)
        lambda: cred.exists() and cred.read_text() == hub.double.credentials["spoke1"],
        what="new credential on disk",
    )
    wid = hub.double.run(py("pass"), "spoke1")  # and works with the new credential
    wait_until(_terminal(hub, wid), what="run after re-registration")
    assert agent.terminate() == 0


def test_a_run_succeeds_reports_in_order_and_keeps_logs_and_outputs_on_disk(hub, start_agent):
    agent = start_agent()
    wid = hub.double.run(py(SUCCESS, env={"API_KEY": "ENV-SECRET-55d1"}), "spoke1")
    wait_until(_terminal(hub, wid), what="run to finish")

    events = hub.double.status_events(wid)
    assert [e.type for e in events] == [EventType.ACCEPTED, EventType.STARTED, EventType.SUCCEEDED]
    assert all(e.generation == 1 for e in events)
    assert events[-1].exit_code == 0
    run_dir = agent.run_dir(wid)
    assert "LOG-LINE-7f3a" in (run_dir / "stdout.log").read_text()
    assert (run_dir / "outputs" / "model.bin").read_text() == "WEIGHTS-91c2"
    assert (run_dir / "stderr.log").exists()
    assert not (run_dir / "metrics.jsonl").exists()  # made by a run that writes a metric

    assert agent.terminate() == 0
    sent = b"".join(hub.double.bodies())
    for private in (b"LOG-LINE-7f3a", b"WEIGHTS-91c2", b"ENV-SECRET-55d1", b"API_KEY"):
        assert private not in sent


def test_exit_codes_and_start_failures_are_reported(hub, start_agent):
    start_agent()
    failing = hub.double.run(py("import sys; sys.exit(3)"), "spoke1")
    missing = hub.double.run(spec("/no/such/binary-x"), "spoke1")
    wait_until(_terminal(hub, failing), what="failing run")
    wait_until(_terminal(hub, missing), what="missing binary")

    last = hub.double.status_events(failing)[-1]
    assert (last.type, last.exit_code, last.reason) == (EventType.FAILED, 3, "NonZeroExitCode")
    assert _types(hub, missing) == [EventType.ACCEPTED, EventType.FAILED]
    last = hub.double.status_events(missing)[-1]
    assert (last.exit_code, last.reason) == (127, "StartFailed")


def test_the_run_environment_and_exclusive_gpu_ids(hub, start_agent):
    agent = start_agent("--gpus", "2")
    code = """
import json, os, time
keys = ["KINDFLEET_WORKLOAD_ID", "KINDFLEET_GENERATION", "KINDFLEET_OUTPUT_DIR",
        "KINDFLEET_METRICS_FILE", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
        "KINDFLEET_GPU_IDS", "MY_SETTING"]
env = {k: os.environ.get(k) for k in keys}
env["agent_settings_leaked"] = [k for k in os.environ if k.startswith("KINDFLEET_")
                                and k not in keys]
open(os.path.join(os.environ["KINDFLEET_OUTPUT_DIR"], "env.json"), "w").write(json.dumps(env))
time.sleep(1.5)
"""
    gpu = {"resources": {"gpu": 1}, "env": {"MY_SETTING": "x", "CUDA_VISIBLE_DEVICES": "7"}}
    first = hub.double.run(py(code, **gpu), "spoke1")
    second = hub.double.run(py(code, **gpu), "spoke1")
    wait_until(lambda: len(hub.double.status_events(second)) >= 2, what="both started")
    third = hub.double.run(py(code, **gpu), "spoke1")  # no GPU left while the two run
    wait_until(lambda: EventType.REJECTED in _types(hub, third), what="rejection")
    assert hub.double.status_events(third)[-1].reason == "InsufficientCapacity"
    cpu_only = hub.double.run(py(code), "spoke1")
    for wid in (first, second, cpu_only):
        wait_until(_terminal(hub, wid), what="runs to finish")
        assert hub.double.workload(wid).state == "Succeeded"

    envs = {
        wid: json.loads((agent.run_dir(wid) / "outputs" / "env.json").read_text())
        for wid in (first, second, cpu_only)
    }
    ids = set()
    for wid in (first, second):
        env = envs[wid]
        assert (
            env["CUDA_VISIBLE_DEVICES"] == env["NVIDIA_VISIBLE_DEVICES"] == env["KINDFLEET_GPU_IDS"]
        )
        ids.add(env["KINDFLEET_GPU_IDS"])
        assert env["KINDFLEET_WORKLOAD_ID"] == wid
        assert env["KINDFLEET_GENERATION"] == "1"
        assert env["KINDFLEET_OUTPUT_DIR"] == str(agent.run_dir(wid) / "outputs")
        assert env["KINDFLEET_METRICS_FILE"] == str(agent.run_dir(wid) / "metrics.jsonl")
        assert env["MY_SETTING"] == "x"
        assert env["agent_settings_leaked"] == []
    assert ids == {"0", "1"}
    assert envs[cpu_only]["KINDFLEET_GPU_IDS"] is None
    assert envs[cpu_only]["CUDA_VISIBLE_DEVICES"] == ""


def test_cancel_stops_the_run_and_reports_cancelled(hub, start_agent):
    agent = start_agent()
    wid = hub.double.run(py("import time; time.sleep(60)"), "spoke1")
    wait_until(lambda: hub.double.workload(wid).state == "Running", what="start")
    pid = _pid(agent, wid)
    hub.double.cancel(wid)
    wait_until(_terminal(hub, wid), what="cancel")
    last = hub.double.status_events(wid)[-1]
    assert last.type is EventType.CANCELLED
    assert last.exit_code == 143  # SIGTERM
    wait_until(lambda: gone(pid), what="process to end")


def test_timeout_stops_the_run_as_deadline_exceeded(hub, start_agent):
    start_agent()
    wid = hub.double.run(py("import time; time.sleep(60)", timeout_seconds=1), "spoke1")
    wait_until(_terminal(hub, wid), what="deadline")
    last = hub.double.status_events(wid)[-1]
    assert (last.type, last.reason) == (EventType.FAILED, "DeadlineExceeded")
    assert last.exit_code == 143


def test_a_copy_the_hub_reassigned_is_stopped_without_a_report(hub, start_agent):
    agent = start_agent()
    wid = hub.double.run(py("import time; time.sleep(60)"), "spoke1")
    wait_until(lambda: hub.double.workload(wid).state == "Running", what="start")
    pid = _pid(agent, wid)
    applied_before = len(hub.double.status_events(wid))
    hub.double.assign(wid, "spoke2")  # generation 2 elsewhere: this copy is stale
    wait_until(lambda: gone(pid), what="stale copy to be stopped")
    wait_until(lambda: not _held(hub, agent), what="nothing held any more", timeout=5)
    assert len(hub.double.status_events(wid)) == applied_before  # nothing more applied
    assert hub.double.workload(wid).spoke == "spoke2"
    assert hub.double.workload(wid).state == "Assigned"


def test_reports_of_a_copy_reassigned_while_cut_off_are_refused_and_dropped(hub, start_agent):
    agent = start_agent()
    wid = hub.double.run(py("import time; time.sleep(1)"), "spoke1")
    wait_until(lambda: hub.double.workload(wid).state == "Running", what="start")
    hub.stop()
    hub.double.assign(wid, "spoke2")  # the hub moved on while this spoke was cut off
    time.sleep(1.5)  # the stale copy ends; its `succeeded` waits in the outbox
    hub.start()
    wait_until(lambda: hub.double.refused, what="the stale report to be refused")
    wait_until(lambda: not _held(hub, agent), what="the agent to drop the stale copy")
    assert hub.double.workload(wid).state == "Assigned"
    assert hub.double.workload(wid).spoke == "spoke2"
    assert [e.type for e in hub.double.status_events(wid)] == [
        EventType.ACCEPTED,
        EventType.STARTED,
    ]


def test_capacity_beyond_the_spoke_is_rejected(hub, start_agent):
    start_agent("--cpu", "2", "--memory", "1Gi")
    wid = hub.double.run(py("pass", resources={"cpu": "4"}), "spoke1")
    wait_until(lambda: _types(hub, wid) == [EventType.REJECTED], what="rejection")
    assert "cpu" in (hub.double.status_events(wid)[-1].message or "")


def test_workload_metrics_and_usage_become_telemetry(hub, start_agent):
    start_agent()
    code = """
import json, os, time
print("KINDFLEET_METRIC loss=0.25 step=10 note=text", flush=True)
with open(os.environ["KINDFLEET_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"accuracy": 0.9, "label": "not-a-number"}) + "\\n")
x = 0
end = time.time() + 1.2
while time.time() < end:
    x += 1
"""
    wid = hub.double.run(py(code), "spoke1")
    wait_until(_terminal(hub, wid), what="run")
    wait_until(lambda: hub.double.telemetry(wid), what="telemetry")
    metrics: dict[str, float] = {}
    for point in hub.double.telemetry(wid):
        assert point.generation == 1
        metrics.update(point.metrics)
    assert metrics["loss"] == 0.25
    assert metrics["step"] == 10
    assert metrics["accuracy"] == 0.9
    assert "label" not in metrics and "note" not in metrics
    usage = [p.metrics for p in hub.double.telemetry(wid) if "cpu_cores" in p.metrics]
    assert usage, "no resource sample"
    assert max(m["rss_bytes"] for m in usage) > 1_000_000
    assert max(m["cpu_cores"] for m in usage) > 0.1
    spoke_points = hub.double.telemetry(None)
    assert any(p.metrics.get("running") == 1 for p in spoke_points)


def test_redelivered_assignments_run_once(hub, start_agent):
    agent = start_agent()
    hub.double.hang_event_responses = 1  # the first `accepted` is applied late, ack lost
    hub.double.hang_seconds = 2.5
    wid = hub.double.run(py("import time; time.sleep(0.5)"), "spoke1")
    wait_until(_terminal(hub, wid), what="run", timeout=15)
    assert _types(hub, wid) == [EventType.ACCEPTED, EventType.STARTED, EventType.SUCCEEDED]
    assert "started" in agent.log()
    assert agent.log().count(f"started {wid}-g1") == 1


def _pid(agent, wid):
    import sqlite3

    def read():
        conn = sqlite3.connect(agent.state_dir / "agent.db")
        try:
            row = conn.execute(
                "SELECT handle FROM assignments WHERE workload = ?", (wid,)
            ).fetchone()
        finally:
            conn.close()
        return json.loads(row[0])["ref"]["pid"] if row and row[0] else None

    wait_until(read, what="run pid")
    return read()


def _held(hub, agent):
    import sqlite3

    conn = sqlite3.connect(agent.state_dir / "agent.db")
    try:
        return conn.execute("SELECT count(*) FROM assignments").fetchone()[0]
    finally:
        conn.close()


def test_what_the_agent_writes_is_its_users_alone(hub, start_agent):
    """agent.db and its companions, the log, the credential, every run's directory and
    log: 0600 files in 0700 directories (the spec's env values are in there)."""
    agent = start_agent()
    wid = hub.double.run(py("print('hello')", env={"TOKEN": "s3cr3t"}), "spoke1")
    wait_until(_terminal(hub, wid), what="run to finish")
    modes = {}
    for path in [agent.state_dir, *agent.state_dir.rglob("*"), agent.log_file]:
        modes[str(path.relative_to(agent.root))] = stat.S_IMODE(path.stat().st_mode)
    assert agent.terminate() == 0
    state = agent.state_dir.name
    run = f"{state}/runs/{wid}-g1"
    expected = {
        state: 0o700, f"{state}/runs": 0o700, run: 0o700, f"{run}/outputs": 0o700,
        f"{run}/stdout.log": 0o600, f"{run}/stderr.log": 0o600,
        f"{state}/agent.db": 0o600, f"{state}/agent.db-wal": 0o600,
        f"{state}/agent.db-shm": 0o600, f"{state}/credential": 0o600,
        f"{state}/agent.lock": 0o600, f"{state}/keepers": 0o600, agent.log_file.name: 0o600,
        f"{state}/spoke-name": 0o600,
    }  # fmt: skip
    modes.pop(f"{state}/alive")  # the health check's empty marker (platform/health.py)
    assert modes == expected


def test_a_finished_runs_directory_is_removed_after_the_retention(hub, start_agent):
    agent = start_agent("--run-retention-seconds", "1")
    runs = agent.state_dir / "runs"
    first = hub.double.run(py("print('first')"), "spoke1")
    wait_until(_terminal(hub, first), what="first run")
    long = hub.double.run(py("import time; time.sleep(30)"), "spoke1")
    wait_until(lambda: EventType.STARTED in _types(hub, long), what="long run to start")
    wait_until(lambda: not (runs / f"{first}-g1").exists(), what="the old directory to go")
    assert (runs / f"{long}-g1").is_dir()  # still held: kept however old its files look
    # The directory leaves runs/ when it is moved to the trash; the pass logs after that.
    wait_until(lambda: "run directories removed: 1 " in agent.log(), what="the pass's log")
    assert agent.terminate() == 0
