"""The platform on real KIND, as a user deploys and uses it: a hub and two Calico spokes
(one with a simulated-GPU worker) brought up, `kindfleet deploy` building the image from
this repository, a CPU and a GPU workload each completing on a spoke that fits, and the
NetworkPolicies blocking what they must (a workload reaches neither the hub nor the
outside; the orchestrator reaches the hub and nothing outside). The tests follow each
other in file order; `make e2e-kind` runs them."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from datetime import datetime

import pytest

from tests.e2e_kind.conftest import BUSYBOX, RESTRICTED

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
    )  # sorted, whatever order they turned Ready in
    assert "2 join tokens minted by the hub" in deploy.stderr
    gpu = platform_run.name + "-gpu"
    node = json.loads(
        platform_run.kubectl(f"kind-{gpu}", "get", "node", f"{gpu}-worker", "-o", "json").stdout
    )
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "2"


def _secret(run, cluster: str, namespace: str, name: str) -> dict[str, str]:
    got = run.kubectl(f"kind-{cluster}", "-n", namespace, "get", "secret", name, "-o", "json")
    return {k: base64.b64decode(v).decode() for k, v in json.loads(got.stdout)["data"].items()}


def _spoke(run, name: str) -> dict:
    listed = run.kindfleet("spokes", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    return next(s for s in json.loads(listed.stdout)["items"] if s["name"] == name)


def test_each_spoke_joined_with_a_join_token_of_its_own(platform_run):
    hub = _secret(platform_run, f"{platform_run.name}-hub", "platform-management", "hub-tokens")
    assert set(hub) == {"client"}  # no fleet-wide spoke token
    tokens = {
        spoke: _secret(platform_run, spoke, "platform-control", "orchestrator-bootstrap")["token"]
        for spoke in (f"{platform_run.name}-cpu", f"{platform_run.name}-gpu")
    }
    assert all(t.startswith("kfjoin.") for t in tokens.values())
    assert len(set(tokens.values())) == 2
    for spoke in tokens:
        assert _spoke(platform_run, spoke)["approved"] is True  # a join token needs no approval


def test_a_recreated_orchestrator_rejoins_with_its_credential_not_its_spent_token(platform_run):
    spoke = f"{platform_run.name}-cpu"
    context = f"kind-{spoke}"
    platform_run.kubectl(context, "-n", "platform-control", "delete", "pod", "-l",
                         "app=orchestrator", "--wait=true", "--timeout=120s")  # fmt: skip
    deleted = time.time()
    platform_run.kubectl(context, "-n", "platform-control", "rollout", "status",
                         "deployment/orchestrator", "--timeout=300s")  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        state = _spoke(platform_run, spoke)
        beat = state["last_heartbeat"]
        if (
            state["health"] == "Ready"
            and beat
            and datetime.fromisoformat(beat).timestamp() > deleted
        ):
            break
        assert time.monotonic() < deadline, f"{spoke} did not come back: {state}"
        time.sleep(2)
    logs = platform_run.kubectl(context, "-n", "platform-control", "logs", "deploy/orchestrator")
    assert "refused" not in logs.stdout + logs.stderr  # its token was spent: never offered again


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


def test_logs_of_a_run_on_a_kind_spoke_once_tailed_and_followed(platform_run):
    code = "import time\nfor i in range(5): print('line', i, flush=True); time.sleep(1)"
    wid = _submit(platform_run, "--name", "e2e-logs", "--selector", "workload-type=general",
                  "--", "python", "-c", code)  # fmt: skip
    followed = platform_run.kindfleet("logs", wid, "--follow", timeout=300)
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.splitlines()[-1] == "line 4"  # to the end, then it ended
    assert _finished(platform_run, wid)["state"] == "Succeeded"
    tail = platform_run.kindfleet("logs", wid, "--tail", "2")
    assert tail.stdout.splitlines() == ["line 3", "line 4"]


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
    run.load_image(BUSYBOX)
    overrides = {"spec": {"securityContext": RESTRICTED["securityContext"], "containers": [
        {"name": name, "image": BUSYBOX, "securityContext": RESTRICTED["container"]}]}}  # fmt: skip
    run.kubectl(context, "-n", namespace, "run", name, f"--image={BUSYBOX}", "--restart=Never",
                "--image-pull-policy=IfNotPresent", f"--overrides={json.dumps(overrides)}",
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
