"""The platform on real KIND, as a user deploys and uses it: a hub and two Calico spokes
(one with a simulated-GPU worker) brought up, `kindfleet deploy` building the image from
this repository, a CPU and a GPU workload each completing on a spoke that fits, and the
NetworkPolicies blocking what they must (a workload reaches neither the hub nor the
outside; the orchestrator reaches the hub and nothing outside). The tests follow each
other in file order; `make e2e-kind` runs them."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

OUTSIDE = "1.1.1.1"


def test_up_and_deploy(platform_run):
    up = platform_run.kindfleet("up", "--kubeconfig", str(platform_run.kubeconfig))
    assert up.returncode == 0, up.stderr
    deploy = platform_run.kindfleet("deploy", "--timeout", "600")
    assert deploy.returncode == 0, deploy.stderr
    assert f"platform deployed on fleet {platform_run.name}" in deploy.stderr
    assert (
        f"spokes Ready in the hub: {platform_run.name}-cpu, {platform_run.name}-gpu"
        in deploy.stderr
    )
    gpu = platform_run.name + "-gpu"
    node = json.loads(
        platform_run.kubectl(f"kind-{gpu}", "get", "node", f"{gpu}-worker", "-o", "json").stdout
    )
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "2"


def _submit(run, *args: str) -> str:
    result = run.kindfleet("submit", "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]["workload"]["id"]


def _finished(run, workload: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        result = run.kindfleet("workloads", workload, "-o", "json")
        assert result.returncode == 0, result.stderr
        state = json.loads(result.stdout)
        if state["state"] in ("Succeeded", "Failed", "Cancelled", "Expired"):
            return state
        assert time.monotonic() < deadline, f"{workload} still {state['state']}"
        time.sleep(3)


def test_cpu_and_gpu_workloads_complete_on_fitting_spokes(platform_run):
    cpu = _submit(platform_run, "--name", "e2e-cpu", "--cpu", "100m", "--selector", "workload-type=general",
                  "--", "python", "-c", "print('cpu work done')")  # fmt: skip
    gpu = _submit(platform_run, "--name", "e2e-gpu", "--gpu", "1", "--selector", "gpu=true",
                  "--", "python", "-c", "print('gpu work done')")  # fmt: skip
    cpu_state, gpu_state = _finished(platform_run, cpu), _finished(platform_run, gpu)
    assert cpu_state["state"] == "Succeeded", cpu_state
    assert gpu_state["state"] == "Succeeded", gpu_state
    assert cpu_state["attempts"][-1]["spoke"] == f"{platform_run.name}-cpu"
    assert gpu_state["attempts"][-1]["spoke"] == f"{platform_run.name}-gpu"


def _hub_url(run) -> str:
    spoke = f"kind-{run.name}-cpu"
    deploy = json.loads(
        run.kubectl(
            spoke, "-n", "platform-control", "get", "deploy", "orchestrator", "-o", "json"
        ).stdout
    )
    args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    return args[args.index("--hub") + 1]


def _probe(run, context: str, namespace: str, name: str, script: str) -> str:
    run.kubectl(context, "-n", namespace, "run", name, "--image=busybox:1.36", "--restart=Never",
                "--command", "--", "sh", "-c", script)  # fmt: skip
    run.kubectl(context, "-n", namespace, "wait", "--for=jsonpath={.status.phase}=Succeeded",
                f"pod/{name}", "--timeout=180s")  # fmt: skip
    return run.kubectl(context, "-n", namespace, "logs", name).stdout


def _script(hub: str) -> str:
    return (
        f'if wget -q -T 5 -O /dev/null {hub}/healthz; then echo "hub REACHED"; else echo "hub BLOCKED"; fi; '
        f'if nc -w 5 {OUTSIDE} 80 </dev/null; then echo "outside REACHED"; else echo "outside BLOCKED"; fi'
    )


def test_a_workload_reaches_neither_the_hub_nor_the_outside(platform_run):
    hub = _hub_url(platform_run)
    context = f"kind-{platform_run.name}-cpu"
    control = _probe(platform_run, context, "default", "np-control", _script(hub))
    assert "hub REACHED" in control  # without a policy the hub is there to be reached
    seen = _probe(platform_run, context, "platform-workloads", "np-workload", _script(hub))
    assert "hub BLOCKED" in seen, seen
    assert "outside BLOCKED" in seen, seen


def test_the_orchestrator_reaches_the_hub_and_nothing_outside(platform_run):
    hub = _hub_url(platform_run)
    context = f"kind-{platform_run.name}-gpu"
    check = (
        "import sys, urllib.request\n"
        "def reach(url):\n"
        "    try:\n"
        "        return urllib.request.urlopen(url, timeout=5).status\n"
        "    except Exception as exc:\n"
        "        return type(exc).__name__\n"
        f"print('hub', reach('{hub}/healthz'))\n"
        f"print('outside', reach('http://{OUTSIDE}/'))\n"
    )
    out = platform_run.kubectl(context, "-n", "platform-control", "exec", "deploy/orchestrator", "--",
                               "python", "-c", check).stdout  # fmt: skip
    assert "hub 200" in out, out
    assert not re.search(r"^outside \d+$", out, re.MULTILINE), out  # an error, not a status


@pytest.mark.parametrize("cluster", ["cpu", "gpu"])
def test_orchestrators_run_as_non_root(platform_run, cluster):
    context = f"kind-{platform_run.name}-{cluster}"
    out = platform_run.kubectl(
        context, "-n", "platform-control", "exec", "deploy/orchestrator", "--", "id", "-u"
    )
    assert out.stdout.strip() == "10001"


# --- checks (issue 12): the user's `kindfleet check` on the real fleet, before it goes ---
def test_kindfleet_check_passes_on_the_real_fleet(platform_run, tmp_path):
    junit = tmp_path / "checks.xml"
    suites = ("comms,routing,telemetry,isolation,failover/spoke-kill,failover/spoke-stop,"
              "failover/spoke-partition,failover/hub-outage")  # fmt: skip
    result = platform_run.kindfleet("check", "--suite", suites, "--junit", str(junit),
                                    "--kubeconfig", str(platform_run.kubeconfig), timeout=3600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert junit.read_text().count("<testcase") >= 12
    assert "✓ failover/spoke-kill" in result.stderr


# --- end checks (issue 12) ---------------------------------------------------------------


def test_down_leaves_nothing(platform_run):
    result = platform_run.kindfleet("down")
    assert result.returncode == 0, result.stderr
    names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    assert not [n for n in names if n.startswith(platform_run.name)]
