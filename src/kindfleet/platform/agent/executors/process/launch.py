"""How a local run is started so that it can never outlive the agent and can be killed as a
whole: its own session (so its process group holds everything it spawns) and, on Linux,
PR_SET_PDEATHSIG=SIGKILL, so the kernel kills it the moment the agent dies, even by kill -9.

PDEATHSIG fires when the *thread* that forked the child exits, so runs must be forked from
a thread that lives as long as the agent: the event-loop thread, never a worker thread.

Also what a run sees in its environment: the agent's own environment minus its KINDFLEET_*
settings, then the spec's env, then the run's identity, paths and GPU ids, which a spec
cannot override.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable, Mapping

from kindfleet.platform.agent.executors.base import RunRequest

PR_SET_PDEATHSIG = 1
GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "KINDFLEET_GPU_IDS")

_prctl: Callable[..., int] | None = None
if sys.platform == "linux":  # looked up once, in the parent: the child only calls it
    _prctl = ctypes.CDLL(None, use_errno=True).prctl


def child_setup(parent_pid: int) -> Callable[[], None]:
    """The pre-exec hook: die with the parent; if it is already gone, do not start at all."""
    prctl = _prctl

    def setup() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(137)

    return setup


def run_environment(
    base: Mapping[str, str], request: RunRequest, *, output_dir: str, metrics_file: str
) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("KINDFLEET_")}
    for name in GPU_VARIABLES:
        env.pop(name, None)
    env.update(request.spec.env)
    env.update(
        {
            "KINDFLEET_WORKLOAD_ID": request.workload,
            "KINDFLEET_GENERATION": str(request.generation),
            "KINDFLEET_OUTPUT_DIR": output_dir,
            "KINDFLEET_METRICS_FILE": metrics_file,
        }
    )
    if request.gpu_ids:
        ids = ",".join(str(i) for i in request.gpu_ids)
        env.update(dict.fromkeys(GPU_VARIABLES, ids))
    else:
        for name in GPU_VARIABLES:
            env.pop(name, None)
        env["CUDA_VISIBLE_DEVICES"] = ""  # no GPU for a run that asked for none
    return env
