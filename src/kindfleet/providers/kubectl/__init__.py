"""kubectl, for what kindfleet asks of a cluster's API: nodes, pods, apply, versions.

kubectl rather than a client library because it is what users run themselves: the same
kubeconfig handling, the same error messages, and a failing command can be pasted into a
shell as is. Commands are built with no I/O (`--kubeconfig` and `--context` always
explicit, so the user's current context never matters); readiness is polled with an
injected clock so tests need not wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kindfleet.errors import KindfleetError, UsageError
from kindfleet.exec import CommandError, Interrupted, Runner, failure_says
from kindfleet.exec import stream as stream_command
from kindfleet.platform import wire
from kindfleet.providers.kubectl.commands import (
    api_slices_cmd,
    apply_cmd,
    config_view_cmd,
    dry_run_apply_cmd,
    get_contexts_cmd,
    get_deployment_cmd,
    get_nodes_cmd,
    get_pods_cmd,
    job_logs_cmd,
    patch_node_status_cmd,
    server_version_cmd,
)
from kindfleet.providers.kubectl.parsing import (
    NodeState,
    PodsReady,
    parse_api_slices,
    parse_nodes,
    parse_pods,
    parse_versions,
    rollout_waiting,
)


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
        job = _job_of(workload, generation, stream)
        command = job_logs_cmd(
            kubeconfig, context, wire.WORKLOADS_NAMESPACE, job, wire.JOB_CONTAINER
        )
        with failure_says(
            f"no log for workload {workload} attempt {generation} (Job {job} in "
            f"{wire.WORKLOADS_NAMESPACE}, context {context})",
            hint=_KEPT,
        ):
            return self.runner.run(command).stdout

    def follow_logs(
        self, kubeconfig: Path | None, context: str | None, workload: str, generation: int,
        stream: str, *, tail: int | None = None,
    ) -> None:  # fmt: skip
        """`kubectl logs --follow` of one run's Job, on this process's stdout, until the
        container ends (kubectl's own end)."""
        job = _job_of(workload, generation, stream)
        command = job_logs_cmd(
            kubeconfig, context, wire.WORKLOADS_NAMESPACE, job, wire.JOB_CONTAINER,
            follow=True, tail=tail,
        )  # fmt: skip
        code = stream_command(command)
        if code != 0:
            raise KindfleetError(
                f"kubectl logs --follow of Job {job} (context {context}) exited with {code}",
                hint=_KEPT,
            )

    def api_server_addresses(self, kubeconfig: Path | None, context: str | None) -> list[str]:
        """Where the cluster's API servers really are (the `kubernetes` EndpointSlices)."""
        return parse_api_slices(self.runner.run(api_slices_cmd(kubeconfig, context)).stdout)

    def patch_node_status(
        self,
        kubeconfig: Path | None,
        context: str | None,
        node: str,
        patch: Mapping[str, Any],
        *,
        dry_run: bool = False,
    ) -> None:
        self.runner.run(patch_node_status_cmd(kubeconfig, context, node, patch, dry_run=dry_run))

    def dry_run_apply(self, kubeconfig: Path | None, context: str | None, manifest: str) -> None:
        self.runner.run(dry_run_apply_cmd(kubeconfig, context, manifest))

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

    def wait_rollout(
        self,
        kubeconfig: Path | None,
        context: str | None,
        namespace: str,
        deployment: str,
        timeout: float,
    ) -> None:
        """The Deployment's latest rollout is complete: its new pods Ready, no old one left."""

        def check() -> str | None:
            command = get_deployment_cmd(kubeconfig, context, namespace, deployment)
            return rollout_waiting(self.runner.run(command).stdout)

        self._until(check, timeout, what=f"deployment/{deployment} in {namespace} to roll out")

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


_KEPT = (
    "a finished run's Job and its log are kept for 10 minutes "
    "(the orchestrator's --job-ttl-seconds)"
)


def _job_of(workload: str, generation: int, stream: str) -> str:
    """The Job of one run; Kubernetes keeps one log per container, stdout and stderr
    together."""
    if stream != "stdout":
        raise UsageError(
            "on Kubernetes a run has one log, stdout and stderr together",
            hint="leave out --stderr",
        )
    return wire.job_name(workload, generation)
