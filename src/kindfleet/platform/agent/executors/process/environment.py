"""What a local run sees in its environment: only what its spec gives, a minimal PATH, HOME
and LANG, and the platform's own variables (its identity, where to write outputs and
metrics, its GPU ids). Never the agent's environment: that may hold the agent's secrets
(a token, cloud credentials) and is not the workload's business.

The spec may override PATH, HOME and LANG; it cannot override the platform's variables.
"""

from __future__ import annotations

from kindfleet.platform.agent import paths
from kindfleet.platform.agent.executors.base import RunRequest

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "KINDFLEET_GPU_IDS")


def run_environment(request: RunRequest) -> dict[str, str]:
    run_dir = str(request.run_dir)
    env = {"PATH": DEFAULT_PATH, "HOME": run_dir, "LANG": "C.UTF-8"}
    env.update(request.spec.env)
    env.update(
        {
            "KINDFLEET_WORKLOAD_ID": request.workload,
            "KINDFLEET_GENERATION": str(request.generation),
            "KINDFLEET_OUTPUT_DIR": f"{run_dir}/{paths.OUTPUTS}",
            "KINDFLEET_METRICS_FILE": f"{run_dir}/{paths.METRICS}",
        }
    )
    if request.gpu_ids:
        env.update(dict.fromkeys(GPU_VARIABLES, ",".join(str(i) for i in request.gpu_ids)))
    else:
        for name in GPU_VARIABLES:
            env.pop(name, None)
        env["CUDA_VISIBLE_DEVICES"] = ""  # no GPU for a run that asked for none
    return env
