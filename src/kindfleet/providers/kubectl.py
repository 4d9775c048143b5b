"""kubectl, for what kindfleet asks of a cluster's API: nodes, pods, apply, versions.

kubectl rather than a client library because it is what users run themselves: the same
kubeconfig handling, the same error messages, and a failing command can be pasted into a
shell as is. Commands are built with no I/O (`--kubeconfig` and `--context` always
explicit, so the user's current context never matters); readiness is polled with an
injected clock so tests need not wait.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kindfleet.errors import KindfleetError, UsageError
from kindfleet.exec import Command, CommandError, Interrupted, Runner, cmd, failure_says
from kindfleet.platform import wire

KUBECTL = "kubectl"
FIELD_MANAGER = "kindfleet"
ROLE_PREFIX = "node-role.kubernetes.io/"

# --- commands (pure) -----------------------------------------------------------------


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
    kubeconfig: Path | None, context: str | None, namespace: str, job: str, container: str
) -> Command:
    argv = _base(kubeconfig, context)
    return cmd(
        *argv, "logs", f"job/{job}", "--namespace", namespace, "--container", container,
        "--request-timeout=20s", timeout=60,
    )  # fmt: skip


def config_view_cmd(kubeconfig: Path | None, context: str) -> Command:
    """One context with its cluster and user, credentials inlined: a standalone kubeconfig."""
    argv = _base(kubeconfig, None)
    return cmd(*argv, "config", "view", "--minify", "--flatten", "--context", context, timeout=30)


def get_contexts_cmd(kubeconfig: Path | None) -> Command:
    argv = _base(kubeconfig, None)
    return cmd(*argv, "config", "get-contexts", "--output=name", timeout=30)


# --- parsing (pure) ------------------------------------------------------------------


@dataclass(frozen=True)
class NodeState:
    name: str
    ready: bool
    message: str  # the Ready condition's message when not Ready
    labels: Mapping[str, str] = field(default_factory=dict)
    kubelet_version: str | None = None
    internal_ip: str | None = None

    @property
    def roles(self) -> list[str]:
        return sorted(k[len(ROLE_PREFIX) :] for k in self.labels if k.startswith(ROLE_PREFIX))


def _items(text: str) -> list[dict[str, Any]]:
    data = json.loads(text or "{}")
    items = data.get("items") if isinstance(data, dict) else None
    return [i for i in items or [] if isinstance(i, dict)]


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def parse_nodes(text: str) -> list[NodeState]:
    out = []
    for item in _items(text):
        meta = item.get("metadata") or {}
        status = item.get("status") or {}
        ready = _condition(item, "Ready")
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        out.append(
            NodeState(
                name=str(meta.get("name", "")),
                ready=bool(ready and ready.get("status") == "True"),
                message=str((ready or {}).get("message") or "no Ready condition yet"),
                labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
                kubelet_version=(status.get("nodeInfo") or {}).get("kubeletVersion"),
                internal_ip=addresses.get("InternalIP"),
            )
        )
    return out


@dataclass(frozen=True)
class PodsReady:
    total: int
    not_ready: Sequence[str]  # "name (phase: reason)"

    @property
    def ready(self) -> bool:
        return self.total > 0 and not self.not_ready


def parse_pods(text: str) -> PodsReady:
    items = _items(text)
    waiting = []
    for item in items:
        condition = _condition(item, "Ready")
        if condition and condition.get("status") == "True":
            continue
        name = (item.get("metadata") or {}).get("name", "?")
        phase = (item.get("status") or {}).get("phase", "Unknown")
        reason = (condition or {}).get("reason") or (condition or {}).get("message") or ""
        waiting.append(f"{name} ({phase}{': ' + reason if reason else ''})")
    return PodsReady(len(items), tuple(waiting))


def parse_versions(text: str) -> tuple[str | None, str | None]:
    """(client, server) gitVersion from `kubectl version -o json`."""
    data = json.loads(text or "{}")
    client = (data.get("clientVersion") or {}).get("gitVersion")
    server = (data.get("serverVersion") or {}).get("gitVersion")
    return client, server


# --- adapter -------------------------------------------------------------------------


class NotReady(KindfleetError):
    """A wait for readiness ran out of time; the message says what was still waiting."""


Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Kubectl:
    def __init__(
        self,
        runner: Runner,
        *,
        poll_seconds: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.runner = runner
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.sleep = sleep

    def nodes(self, kubeconfig: Path | None, context: str | None) -> list[NodeState]:
        return parse_nodes(self.runner.run(get_nodes_cmd(kubeconfig, context)).stdout)

    def pods(
        self, kubeconfig: Path | None, context: str | None, namespace: str, selector: str
    ) -> PodsReady:
        command = get_pods_cmd(kubeconfig, context, namespace, selector)
        return parse_pods(self.runner.run(command).stdout)

    def apply(self, kubeconfig: Path | None, context: str | None, manifest: str) -> None:
        self.runner.run(apply_cmd(kubeconfig, context, manifest))

    def versions(
        self, kubeconfig: Path | None, context: str | None
    ) -> tuple[str | None, str | None]:
        return parse_versions(self.runner.run(server_version_cmd(kubeconfig, context)).stdout)

    def run_logs(
        self, kubeconfig: Path | None, context: str | None, workload: str, generation: int,
        stream: str,
    ) -> str:  # fmt: skip
        """The log of one run's Job (the orchestrator names it from workload and generation).

        Kubernetes keeps one log per container, stdout and stderr together."""
        if stream != "stdout":
            raise UsageError(
                "on Kubernetes a run has one log, stdout and stderr together",
                hint="leave out --stderr",
            )
        job = wire.job_name(workload, generation)
        command = job_logs_cmd(
            kubeconfig, context, wire.WORKLOADS_NAMESPACE, job, wire.JOB_CONTAINER
        )
        with failure_says(
            f"no log for workload {workload} attempt {generation} (Job {job} in "
            f"{wire.WORKLOADS_NAMESPACE}, context {context})",
            hint="a finished run's Job and its log are kept for 10 minutes "
            "(the orchestrator's --job-ttl-seconds)",
        ):
            return self.runner.run(command).stdout

    def view(self, kubeconfig: Path | None, context: str) -> str:
        return self.runner.run(config_view_cmd(kubeconfig, context)).stdout

    def contexts(self, kubeconfig: Path | None) -> list[str]:
        result = self.runner.run(get_contexts_cmd(kubeconfig), check=False)
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def wait_nodes_ready(
        self,
        kubeconfig: Path | None,
        context: str | None,
        expected: Sequence[str],
        timeout: float,
    ) -> None:
        """Every node named in `expected` is registered and Ready."""

        def check() -> str | None:
            states = {n.name: n for n in self.nodes(kubeconfig, context)}
            missing = [name for name in expected if name not in states]
            waiting = [f"{n.name}: {n.message}" for n in states.values() if not n.ready]
            if not missing and not waiting:
                return None
            parts = [f"not registered: {', '.join(missing)}"] if missing else []
            return "; ".join(parts + waiting)

        self._until(check, timeout, what="nodes Ready")

    def wait_pods_ready(
        self,
        kubeconfig: Path | None,
        context: str | None,
        namespace: str,
        selector: str,
        timeout: float,
    ) -> None:
        def check() -> str | None:
            pods = self.pods(kubeconfig, context, namespace, selector)
            if pods.ready:
                return None
            if not pods.total:
                return f"no pod matches {selector} in {namespace} yet"
            return "not Ready: " + ", ".join(pods.not_ready)

        self._until(check, timeout, what=f"pods {selector} Ready")

    def _until(self, check: Callable[[], str | None], timeout: float, *, what: str) -> None:
        """Call `check` until it returns None (done); its last answer explains a timeout.

        A check that fails because the API is not answering yet counts as "not yet".
        """
        deadline = self.clock() + timeout
        while True:
            try:
                waiting = check()
            except Interrupted:
                raise
            except CommandError as exc:
                waiting = exc.output.splitlines()[-1] if exc.output else str(exc)
            if waiting is None:
                return
            if self.clock() >= deadline:
                raise NotReady(f"timed out after {timeout:g}s waiting for {what}: {waiting}")
            self.sleep(self.poll_seconds)
