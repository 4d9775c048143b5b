"""kubectl commands as values: every argv built with no I/O, `--kubeconfig` and `--context`
always explicit (so the user's current context never matters), each one pasteable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kindfleet.exec import Command, cmd

KUBECTL = "kubectl"
FIELD_MANAGER = "kindfleet"
GPU_RESOURCE = "nvidia.com/gpu"


def _base(kubeconfig: Path | None, context: str | None) -> list[str]:
    argv = [KUBECTL]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    if context:
        argv += ["--context", context]
    return argv


def client_version_cmd() -> Command:
    return cmd(KUBECTL, "version", "--client", "--output=json", timeout=30)


def server_version_cmd(kubeconfig: Path | None, context: str | None) -> Command:
    argv = _base(kubeconfig, context)
    return cmd(*argv, "version", "--output=json", "--request-timeout=10s", timeout=30)


def get_nodes_cmd(kubeconfig: Path | None, context: str | None) -> Command:
    argv = _base(kubeconfig, context)
    return cmd(*argv, "get", "nodes", "--output=json", "--request-timeout=20s", timeout=40)


def get_pods_cmd(
    kubeconfig: Path | None, context: str | None, namespace: str, selector: str
) -> Command:
    argv = _base(kubeconfig, context)
    return cmd(
        *argv,
        "get",
        "pods",
        "--namespace",
        namespace,
        "--selector",
        selector,
        "--output=json",
        "--request-timeout=20s",
        timeout=40,
    )


def apply_cmd(kubeconfig: Path | None, context: str | None, manifest: str) -> Command:
    """Server-side apply from stdin: idempotent, and no size limit from the last-applied
    annotation (Calico's CRDs are too big for a client-side apply)."""
    argv = _base(kubeconfig, context)
    return cmd(
        *argv,
        "apply",
        "--server-side",
        "--force-conflicts",
        f"--field-manager={FIELD_MANAGER}",
        "--filename=-",
        stdin=manifest,
        timeout=300,
    )


def job_logs_cmd(
    kubeconfig: Path | None,
    context: str | None,
    namespace: str,
    job: str,
    container: str,
    *,
    follow: bool = False,
    tail: int | None = None,
) -> Command:
    """`kubectl logs job/...`; `follow`: and what the container writes until it ends."""
    argv = (*_base(kubeconfig, context), "logs", f"job/{job}", "--namespace", namespace,
            "--container", container)  # fmt: skip
    if tail is not None:
        argv = (*argv, f"--tail={tail}")
    if follow:  # no request timeout: the stream lasts as long as the run
        return cmd(*argv, "--follow", "--pod-running-timeout=5m")
    return cmd(*argv, "--request-timeout=20s", timeout=60)


def api_slices_cmd(kubeconfig: Path | None, context: str | None) -> Command:
    """The EndpointSlices of the `kubernetes` Service: the API servers' real addresses."""
    return cmd(
        *_base(kubeconfig, context),
        "get",
        "endpointslices",
        "--namespace",
        "default",
        "--selector",
        "kubernetes.io/service-name=kubernetes",
        "--output=json",
        "--request-timeout=20s",
        timeout=40,
    )


def gpu_patch(count: int) -> dict[str, Any]:
    """The Node status merge patch that advertises `count` simulated GPUs (capacity and
    allocatable both, so the number is usable before the kubelet's next status update)."""
    value = str(count) if count else None  # null deletes the key in a merge patch
    return {"status": {"capacity": {GPU_RESOURCE: value}, "allocatable": {GPU_RESOURCE: value}}}


def patch_node_status_cmd(
    kubeconfig: Path | None,
    context: str | None,
    node: str,
    patch: Mapping[str, Any],
    *,
    dry_run: bool,
) -> Command:
    argv = [*_base(kubeconfig, context), "patch", "node", node, "--subresource=status"]
    argv += ["--type=merge", "--patch", json.dumps(patch, sort_keys=True)]
    if dry_run:
        argv.append("--dry-run=server")
    return cmd(*argv, "--request-timeout=20s", timeout=40)


def dry_run_apply_cmd(kubeconfig: Path | None, context: str | None, manifest: str) -> Command:
    return cmd(
        *_base(kubeconfig, context),
        "apply",
        "--server-side",
        "--dry-run=server",
        f"--field-manager={FIELD_MANAGER}",
        "--filename=-",
        stdin=manifest,
        timeout=300,
    )


def config_view_cmd(kubeconfig: Path | None, context: str) -> Command:
    """One context with its cluster and user, credentials inlined: a standalone kubeconfig."""
    argv = _base(kubeconfig, None)
    return cmd(*argv, "config", "view", "--minify", "--flatten", "--context", context, timeout=30)


def get_contexts_cmd(kubeconfig: Path | None) -> Command:
    argv = _base(kubeconfig, None)
    return cmd(*argv, "config", "get-contexts", "--output=name", timeout=30)


def get_deployment_cmd(
    kubeconfig: Path | None, context: str | None, namespace: str, name: str
) -> Command:
    argv = _base(kubeconfig, context)
    return cmd(
        *argv, "get", "deployment", name, "--namespace", namespace, "--output=json",
        "--request-timeout=20s", timeout=40,
    )  # fmt: skip


def pod_logs_cmd(
    kubeconfig: Path | None,
    context: str | None,
    namespace: str,
    selector: str,
    *,
    previous: bool = False,
) -> Command:
    """Every container's whole log of the pods `selector` picks (kubectl's default for a
    selector is the last 10 lines), each line prefixed with its pod and container."""
    argv = [*_base(kubeconfig, context), "logs", "--namespace", namespace, "--selector", selector]
    argv += ["--all-containers", "--prefix", "--timestamps", "--tail=-1", "--ignore-errors"]
    if previous:
        argv.append("--previous")
    return cmd(*argv, "--request-timeout=30s", timeout=120)


def describe_pods_cmd(kubeconfig: Path | None, context: str | None, namespace: str) -> Command:
    argv = _base(kubeconfig, context)
    return cmd(*argv, "describe", "pods", "--namespace", namespace, "--request-timeout=30s",
               timeout=120)  # fmt: skip


def get_wide_cmd(
    kubeconfig: Path | None, context: str | None, namespace: str, kinds: str
) -> Command:
    argv = _base(kubeconfig, context)
    return cmd(*argv, "get", kinds, "--namespace", namespace, "--output=wide",
               "--request-timeout=30s", timeout=120)  # fmt: skip
