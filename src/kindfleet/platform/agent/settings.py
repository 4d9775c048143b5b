"""The agent's command line, which is an interface: the local runtime starts one agent per
spoke exactly as `python -m kindfleet.platform.agent --hub URL --name NAME --state-dir DIR
--bootstrap-token-file F [...]`. argparse, not typer: the agent is a long-lived daemon whose
resident memory matters more than pretty help.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kindfleet import kubelet
from kindfleet.errors import UsageError
from kindfleet.platform.agent import paths
from kindfleet.platform.agent.executors.kubernetes.jobs import DEFAULT_IMAGE as DEFAULT_JOB_IMAGE
from kindfleet.platform.exclusive import SPOKE_GRACE
from kindfleet.platform.wire import WORKLOADS_NAMESPACE, Capacity
from kindfleet.units import parse_cpu, parse_memory

EXECUTORS = ("process", "kubernetes")
LOG_LEVELS = ("debug", "info", "warning", "error")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class AgentSettings:
    hub: str
    name: str
    state_dir: Path
    bootstrap_token_file: Path
    labels: dict[str, str] = field(default_factory=dict)
    capacity: Capacity = field(
        default_factory=lambda: Capacity(cpu_millis=4000, memory_bytes=8 * 2**30, gpus=0)
    )
    executor: str = "process"
    run_cgroups: str = "auto"  # process executor: a cgroup per keeper where possible, or "off"
    telemetry_seconds: float = 2.0
    run_retention_seconds: float = 86_400.0  # 0: run directories are kept forever
    run_log_max_bytes: int = kubelet.LOG_MAX_BYTES  # process executor: stdout/stderr; 0: none
    run_log_max_files: int = kubelet.LOG_MAX_FILES  # the log and its rotated copies
    run_memory_limits: str = "enforce"  # process executor: OOMKill a run past its memory
    log_file: Path | None = None
    log_level: str = "info"
    # Tuning; the defaults are what production wants, tests shorten them.
    poll_wait: float = 20.0  # long-poll `wait` (the hub caps it at 30 s)
    request_timeout: float = 10.0
    stop_grace_seconds: float = SPOKE_GRACE  # SIGTERM -> SIGKILL
    backoff_max: float = 10.0
    shutdown_flush_seconds: float = 3.0
    flush_interval: float = 1.0
    supervise_interval: float = 0.2
    # The kubernetes executor: where its Jobs go and what it reports as capacity.
    namespace: str = WORKLOADS_NAMESPACE
    kubeconfig: Path | None = None  # None: in-cluster in a pod, else $KUBECONFIG/~/.kube/config
    context: str | None = None
    job_image: str = DEFAULT_JOB_IMAGE  # for workloads that name no image
    job_ttl_seconds: int = 600
    capacity_from_cluster: bool = False  # the nodes' allocatable, read at start
    kube_resync_seconds: float = 60.0

    @property
    def db_path(self) -> Path:
        return self.state_dir / paths.DB

    @property
    def credential_path(self) -> Path:
        return self.state_dir / paths.CREDENTIAL

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / paths.RUNS


def parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--labels: {item!r} is not key=value", hint="write e.g. gpu=true,region=eu"
            )
        labels[key.strip()] = value.strip()
    return labels


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m kindfleet.platform.agent",
        description="kindfleet spoke agent: pulls work from the hub, runs it, reports back "
        "status and telemetry only.",
    )
    p.add_argument("--hub", required=True, help="hub base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--name", required=True, help="spoke name (DNS-1123 label)")
    p.add_argument("--state-dir", required=True, type=Path, help="credential, outbox, run logs")
    p.add_argument("--bootstrap-token-file", required=True, type=Path)
    p.add_argument("--labels", default="", help="cluster labels: k=v,k2=v2")
    p.add_argument("--cpu", default=None, help="allocatable cpu (default 4, 500m)")
    p.add_argument("--memory", default=None, help="allocatable memory (default 8Gi)")
    p.add_argument("--gpus", type=int, default=None, help="simulated GPUs (device ids 0..n-1)")
    p.add_argument("--executor", choices=EXECUTORS, default="process")
    p.add_argument(
        "--run-cgroups",
        choices=("auto", "off"),
        default="auto",
        help="process executor: contain each run in a cgroup v2 group where this user may "
        "create them (auto), or by session and subreaper only (off)",
    )
    p.add_argument("--telemetry-seconds", type=float, default=2.0)
    p.add_argument(
        "--run-retention-seconds",
        type=float,
        default=86_400.0,
        help="remove a run's directory (its logs and outputs) once the run has ended and "
        "the directory has not changed for this long (default a day); 0 keeps them all",
    )
    p.add_argument(
        "--run-log-max-size",
        default=kubelet.LOG_MAX_SIZE,
        help="process executor: rotate a run's stdout.log or stderr.log once it is past this "
        "size (default 10Mi, the kubelet's containerLogMaxSize); 0 never rotates",
    )
    p.add_argument(
        "--run-log-max-files",
        type=int,
        default=kubelet.LOG_MAX_FILES,
        help="keep a run's log and up to this many less one rotated copies (default 5, the "
        "kubelet's containerLogMaxFiles)",
    )
    p.add_argument(
        "--run-memory-limits",
        choices=("enforce", "off"),
        default="enforce",
        help="process executor: kill a run whose processes use more memory than its spec's "
        "resources.memory and report it OOMKilled, as a cluster does (enforce), or let it be "
        "(off)",
    )
    p.add_argument("--log-file", type=Path, default=None)
    p.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    kube = p.add_argument_group(
        "kubernetes executor (capacity: the nodes' allocatable unless --cpu/--memory/--gpus)"
    )
    kube.add_argument("--namespace", default=WORKLOADS_NAMESPACE, help="namespace of the Jobs")
    kube.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig file (default: in-cluster in a pod, else $KUBECONFIG or ~/.kube/config)",
    )
    kube.add_argument("--context", default=None, help="kubeconfig context")
    kube.add_argument("--job-image", default=DEFAULT_JOB_IMAGE, help="image of image-less work")
    kube.add_argument("--job-ttl-seconds", type=int, default=600, help="ttlSecondsAfterFinished")
    tuning = p.add_argument_group("tuning (tests shorten these)")
    tuning.add_argument("--poll-wait", type=float, default=20.0)
    tuning.add_argument("--request-timeout", type=float, default=10.0)
    tuning.add_argument("--stop-grace-seconds", type=float, default=SPOKE_GRACE)
    tuning.add_argument("--backoff-max", type=float, default=10.0)
    tuning.add_argument("--shutdown-flush-seconds", type=float, default=3.0)
    tuning.add_argument("--flush-interval", type=float, default=1.0)
    tuning.add_argument("--kube-resync-seconds", type=float, default=60.0)
    return p


def parse_args(argv: Sequence[str] | None = None) -> AgentSettings:
    """Flags -> settings; bad values raise UsageError (exit 2) naming the flag."""
    ns = _parser().parse_args(argv)
    if not _NAME.fullmatch(ns.name) or len(ns.name) > 63:
        raise UsageError(
            f"--name {ns.name!r} is not a DNS-1123 label",
            hint="use lower-case letters, digits and '-', e.g. spoke1",
        )
    given = (ns.cpu, ns.memory, ns.gpus) != (None, None, None)
    try:
        capacity = Capacity(
            cpu_millis=parse_cpu(ns.cpu or "4"),
            memory_bytes=parse_memory(ns.memory or "8Gi"),
            gpus=ns.gpus or 0,
        )
    except ValueError as exc:
        raise UsageError(f"--cpu/--memory/--gpus: {exc}") from None
    positive = (
        "telemetry_seconds",
        "poll_wait",
        "request_timeout",
        "flush_interval",
        "kube_resync_seconds",
    )
    for flag in positive:
        if getattr(ns, flag) <= 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be more than 0")
    if not ns.run_retention_seconds >= 0:  # NaN too
        raise UsageError(
            "--run-retention-seconds must be 0 (keep every run's directory) or more",
            hint="e.g. --run-retention-seconds 86400 keeps a day of runs",
        )
    _check_kubernetes_flags(ns)
    log_max_bytes = _log_max_size(ns.run_log_max_size)
    if not 1 <= ns.run_log_max_files <= kubelet.LOG_FILES_LIMIT:
        raise UsageError(
            f"--run-log-max-files must be from 1 to {kubelet.LOG_FILES_LIMIT}, "
            f"not {ns.run_log_max_files}",
            hint="1 keeps only the log itself; the default 5 keeps 4 rotated copies",
        )
    return AgentSettings(
        hub=ns.hub,
        name=ns.name,
        state_dir=ns.state_dir,
        bootstrap_token_file=ns.bootstrap_token_file,
        labels=parse_labels(ns.labels),
        capacity=capacity,
        executor=ns.executor,
        run_cgroups=ns.run_cgroups,
        telemetry_seconds=ns.telemetry_seconds,
        run_retention_seconds=ns.run_retention_seconds,
        run_log_max_bytes=log_max_bytes,
        run_log_max_files=ns.run_log_max_files,
        run_memory_limits=ns.run_memory_limits,
        log_file=ns.log_file,
        log_level=ns.log_level,
        poll_wait=ns.poll_wait,
        request_timeout=ns.request_timeout,
        stop_grace_seconds=ns.stop_grace_seconds,
        backoff_max=ns.backoff_max,
        shutdown_flush_seconds=ns.shutdown_flush_seconds,
        flush_interval=ns.flush_interval,
        namespace=ns.namespace,
        kubeconfig=ns.kubeconfig,
        context=ns.context,
        job_image=ns.job_image,
        job_ttl_seconds=ns.job_ttl_seconds,
        capacity_from_cluster=ns.executor == "kubernetes" and not given,
        kube_resync_seconds=ns.kube_resync_seconds,
    )


def _log_max_size(text: str) -> int:
    try:
        size = parse_memory(text)
    except ValueError:
        raise UsageError(
            f"--run-log-max-size {text!r} is not a size",
            hint="write e.g. 10Mi, 500Ki or 1G; 0 never rotates",
        ) from None
    if 0 < size < kubelet.LOG_MIN_BYTES:
        raise UsageError(
            f"--run-log-max-size {text} is below {kubelet.LOG_MIN_BYTES // 1024}Ki",
            hint="a run's log is rotated by copying it: give it at least 16Ki, or 0 for no cap",
        )
    return size


def _check_kubernetes_flags(ns: argparse.Namespace) -> None:
    if not _NAME.fullmatch(ns.namespace) or len(ns.namespace) > 63:
        raise UsageError(
            f"--namespace {ns.namespace!r} is not a DNS-1123 label",
            hint="use lower-case letters, digits and '-', e.g. platform-workloads",
        )
    if ns.job_ttl_seconds < 0:
        raise UsageError("--job-ttl-seconds must not be negative")
    if not ns.job_image.strip():
        raise UsageError("--job-image must name an image, e.g. busybox:1.37")
