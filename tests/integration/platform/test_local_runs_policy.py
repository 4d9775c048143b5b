"""A local spoke's `runs` block of the fleet file reaches its agent: the log cap and the
memory limits are the fleet file's to set, as a KIND fleet's kubelet config is."""

from __future__ import annotations

import sys

import pytest

from kindfleet.testing import fleet_up, submit_and_wait

pytestmark = pytest.mark.slow

FLEET = """
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: runs
provider: local
spokes:
  - name: runs-lax
    labels: {policy: lax}
    runs: {logMaxSize: 64Ki, logMaxFiles: 2, memoryLimits: false}
  - name: runs-default
    labels: {policy: default}
"""

HOG = "x = bytearray(200 << 20); import time; time.sleep(0.5)"
CHATTY = (  # 40 KiB every 0.2 s for 5 s: rotated several times while it runs
    "import os, time\n"
    "for _ in range(25):\n"
    "    os.write(1, (b'a line of a chatty run' * 40 + b'\\n') * 46)\n"
    "    time.sleep(0.2)\n"
)


def _on(policy: str, code: str) -> dict[str, object]:
    return {
        "name": "probe",
        "command": [sys.executable, "-c", code],
        "resources": {"cpu": "100m", "memory": "64Mi"},
        "selector": {"match_labels": {"policy": policy}},
    }


def test_the_fleet_file_sets_a_local_spokes_log_cap_and_memory_limits(tmp_path):
    state = tmp_path / "state"
    with fleet_up(FLEET, state_dir=state) as running, running.hub() as hub:
        assert submit_and_wait(hub, _on("lax", HOG)).state == "Succeeded"  # limits off
        oom = submit_and_wait(hub, _on("default", HOG))
        assert (oom.state, oom.reason) == ("Failed", "OOMKilled")  # the default: enforced
        chatty = submit_and_wait(hub, _on("lax", CHATTY))  # 2.6 MB of log
        assert chatty.state == "Succeeded"
        runs = state / "runs" / "clusters" / "runs-lax" / "agent" / "runs"
        [run] = runs.glob(f"{chatty.id}-g1")
        logs = sorted(p.name for p in run.glob("stdout.log*"))
        assert logs == ["stdout.log", "stdout.log.1"]  # rotated, and two files kept, not five
        assert all((run / name).stat().st_size <= 64 * 1024 for name in logs)  # not 10Mi
