"""The spoke agent's executor on a real cluster: each run is a batch/v1 Job in the workloads
namespace, and the cluster's own objects are the state. That is what makes an agent restart
harmless: the Job's name follows from the workload and its generation, so starting a run
that already exists adopts it (409 -> same labels -> the same run) and `recover` reads how
it is doing, instead of starting the work a second time.

The agent polls its runs often; that is served from one watch on this spoke's Jobs and one
on their pods (`kubewatch.Informer`), with a GET for a Job the watch does not know or when
the watch is broken. An unreachable API server, like an unreachable hub, stops nothing:
polls answer "still running" from what is known, and the truth is read again when the
server answers. Only a Job that is really gone (404) makes a run lost.

Where the process executor measures and places, here the cluster does: the scheduler picks
the node (and the GPU devices, through the device plugin), so `RunRequest.gpu_ids` is not
used, and the capacity the agent reports is what the nodes can allocate.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

from kindfleet.errors import PrerequisiteError
from kindfleet.platform.agent import logs, paths
from kindfleet.platform.agent.backoff import Backoff
from kindfleet.platform.agent.executors.base import (
    RUNNING,
    ClusterUnreachable,
    ExecutorError,
    RefValue,
    RunHandle,
    RunPhase,
    RunRequest,
    RunStatus,
    Usage,
)
from kindfleet.platform.agent.executors.kubernetes.api import describe, open_client, transient
from kindfleet.platform.agent.executors.kubernetes.calls import JobCalls
from kindfleet.platform.agent.executors.kubernetes.jobs import (
    job_manifest,
    owns,
    same_job,
    spoke_job,
    spoke_selector,
)
from kindfleet.platform.agent.executors.kubernetes.jobstatus import (
    exit_code,
    finished,
    job_status,
    needs_pods,
    pod_metrics,
    terminated,
)
from kindfleet.platform.agent.executors.kubernetes.nodes import node_capacity
from kindfleet.platform.agent.executors.kubernetes.options import KubeOptions
from kindfleet.platform.agent.executors.kubernetes.watch import Informer, Obj
from kindfleet.platform.wire import Capacity, job_name

log = logs.get("kubernetes")
# Its debug output holds whole request and response bodies (a workload's env included).
logging.getLogger("kubernetes_asyncio").setLevel(logging.WARNING)


class _Unknown(Exception):
    """The Job's state cannot be read right now (and nothing recent is known)."""


class KubernetesExecutor:
    name = "kubernetes"
    outlives_agent = True  # Jobs run on through an agent restart; `recover` adopts them

    def __init__(self, kube: KubeOptions, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.clock = clock
        self._lock = asyncio.Lock()
        self._calls: JobCalls | None = None
        self._jobs: Informer | None = None
        self._pods: Informer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._checked: dict[str, float] = {}  # Job name -> when it was last read by GET
        self._said: dict[str, str | None] = {}  # Job name -> the last message logged
        self._gone: set[str] = set()  # Job names a GET found absent (until released)

    # ------------------------------------------------------------------ the protocol

    async def start(self, request: RunRequest) -> RunHandle:
        """Create the run's Job, or adopt it when it exists. The run's directory is its launch
        guard, as with the process executor: made here before the first create, so a start
        that finds it made already (the agent died after creating the Job, before writing
        down that it had) only adopts, and never creates the Job again once it is gone
        (removed by its TTL after it ran): a generation never runs twice."""
        calls = await self._watching()
        manifest = job_manifest(request.workload, request.generation, request.spec, self.kube.job)
        try:
            request.run_dir.mkdir(mode=paths.PRIVATE_DIR)
        except FileExistsError:
            return await self._started_before(calls, str(manifest["metadata"]["name"]), request)
        job = await self._create_or_adopt(calls, manifest, request)
        self._remember(job)
        return self._handle(job)

    async def _started_before(self, calls: JobCalls, name: str, request: RunRequest) -> RunHandle:
        """Adopt the Job of a generation started here before; never create it again."""
        try:
            job = await calls.get_job(name)
        except Exception as exc:
            if not transient(exc):
                raise ExecutorError(f"cannot read the Job {name}: {describe(exc)}") from None
            log.warning("cannot read Job %s now (%s); adopting it", name, describe(exc))
            self._checked[name] = self.clock()
            return RunHandle(self.name, {"namespace": self.kube.namespace, "job": name, "uid": ""})
        if job is None:
            raise ExecutorError(
                f"this generation was started on this spoke before and its Job {name} is "
                "gone (deleted, or removed by its TTL): a generation never runs twice",
                reason="AlreadyRan",
            )
        if not owns(job, request.workload, request.generation, self.kube.job.spoke):
            raise ExecutorError(
                f"a Job named {name} already exists in {self.kube.namespace} and is not this run"
            )
        log.info("adopted the existing Job %s instead of creating it again", name)
        self._remember(job)
        return self._handle(job)

    async def poll(self, handle: RunHandle) -> RunStatus:
        calls = await self._watching()
        name = str(handle.ref["job"])
        try:
            job = await self._current(calls, name)
        except _Unknown:
            return RUNNING  # an unreachable API server changes nothing about the work
        if job is None:
            return RunStatus(
                RunPhase.LOST, reason="JobDeleted", message=f"the Job {name} was deleted"
            )
        if not same_job(job, _uid(handle)):
            return _replaced(name)
        return await self._status(calls, name, job)

    def watch(self, handle: RunHandle, wake: asyncio.Event) -> bool:
        """Polled: `poll` is served from the watches, so a poll every supervise interval is
        cheap, and a Job's end need not be pushed."""
        return False

    async def stop(self, handle: RunHandle, *, grace_seconds: float) -> RunStatus:
        """Delete the Job in the foreground and wait (a bounded time) until it is gone, so
        that a reported stop means the pods are gone and their GPUs free for the next run.
        While the API server cannot be reached the delete is tried again, without end: a
        stop reported with its Job still running would leave that Job running, forgotten.
        Only that very Job is deleted (its uid): one made under its name since is not ours."""
        calls = await self._watching()
        name, uid = str(handle.ref["job"]), _uid(handle)
        pods = self._pods_of(name)
        cached = self._jobs.objects.get(name) if self._jobs else None
        if cached is not None and not same_job(cached, uid):
            return _replaced(name)  # ours is gone; the one of its name now is not ours to stop
        try:  # not reported stopped while it may run on: until the API server answers
            await calls.retrying(
                lambda: calls.delete_job(name, "Foreground", uid),
                until_answered=f"delete Job {name}",
            )
        except Exception as exc:
            if isinstance(exc, ApiException) and exc.status == 409:
                return _replaced(name)  # the uid precondition: not ours any more
            log.warning("could not delete Job %s: %s", name, describe(exc))
            return RunStatus(
                RunPhase.LOST,
                reason="DeleteFailed",
                message=f"the Job {name} could not be deleted and may still run",
            )
        log.info("deleting Job %s and its pods", name)
        await self._wait_gone(calls, name, uid, grace_seconds + self.kube.request_timeout)
        code = exit_code(terminated(self._pods_of(name) or pods))
        return RunStatus(RunPhase.EXITED, code, "JobDeleted")

    async def sample(self, handle: RunHandle) -> Usage | None:
        """What the API offers for free: restarts and how long the pods wait. No cpu or
        memory figures (that needs metrics-server, which a spoke need not run): zeros."""
        if self._pods is None:
            return None
        pods = self._pods_of(str(handle.ref["job"]))
        return Usage(cpu_cores=0.0, rss_bytes=0, metrics=pod_metrics(pods, _now()))

    async def recover(self, handle: RunHandle, request: RunRequest) -> RunStatus:
        calls = await self._watching()
        name = str(handle.ref.get("job") or job_name(request.workload, request.generation))
        namespace = str(handle.ref.get("namespace") or self.kube.namespace)
        if namespace != self.kube.namespace:
            return RunStatus(
                RunPhase.LOST,
                reason="JobElsewhere",
                message=f"the Job is in namespace {namespace}, this agent uses "
                f"{self.kube.namespace}",
            )
        try:
            job = await calls.get_job(name)
        except Exception as exc:
            log.warning("cannot read Job %s now (%s); adopting it", name, describe(exc))
            return RUNNING  # poll reads it again once the server answers
        if job is None:
            return RunStatus(
                RunPhase.LOST,
                reason="JobGone",
                message=f"the Job {name} no longer exists (deleted, or removed by its TTL "
                "while the agent was away)",
            )
        if not owns(job, request.workload, request.generation, self.kube.job.spoke):
            return RunStatus(
                RunPhase.LOST, reason="JobReplaced", message=f"the Job {name} is not this run's"
            )
        if not same_job(job, _uid(handle)):
            return _replaced(name)
        self._remember(job)
        log.info("re-adopted Job %s", name)
        return await self._status(calls, name, job)

    async def release(self, handle: RunHandle) -> None:
        """A finished Job is left to `ttlSecondsAfterFinished`: until then its pod, and so the
        run's logs, stay readable on the spoke (`kubectl logs job/<name>`), which is where
        logs belong. A Job that has not finished (a fenced copy, a failed stop) is deleted:
        nothing watches it any more; but only while it is still this run's very Job (one made
        under its name since, by anyone, is left alone). Never raises: the run is reported."""
        name, uid = str(handle.ref["job"]), _uid(handle)
        try:
            job = await self._own_job(handle) if name not in self._gone else None
            if self._calls and job is not None and not finished(job):
                await self._calls.delete_job(name, "Background", uid)
                log.info("deleted unfinished Job %s", name)
        except Exception as exc:
            log.warning("could not clean up Job %s: %s", name, describe(exc))
        finally:
            self._checked.pop(name, None)
            self._said.pop(name, None)
            self._gone.discard(name)
            if self._jobs is not None:
                self._jobs.forget(name)

    async def _own_job(self, handle: RunHandle) -> Obj | None:
        """The Job `handle` names if it is still that very Job, of this spoke, else None: a
        Job made in its place, by anyone, is never this agent's to delete."""
        namespace = handle.ref.get("namespace", self.kube.namespace)
        if self._calls is None or namespace != self.kube.namespace:
            return None
        name, uid = str(handle.ref["job"]), _uid(handle)
        job = self._jobs.objects.get(name) if self._jobs else None
        if job is None or not same_job(job, uid):
            job = await self._calls.get_job(name)
        if job is None or not same_job(job, uid) or not spoke_job(job, self.kube.job.spoke):
            return None
        return job

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks = []
        if self._calls is not None:
            await self._calls.api.close()
            self._calls = None

    # ------------------------------------------------------------------ capacity

    async def capacity(self) -> Capacity:
        """The sum of what the schedulable nodes can allocate (cpu, memory, GPUs)."""
        calls = await self._client()
        try:
            nodes = await calls.retrying(calls.nodes)
        except Exception as exc:
            if transient(exc):
                raise ClusterUnreachable(
                    f"cannot read the cluster's nodes now: {describe(exc)}",
                    hint="is the cluster's API server up and reachable from the agent?",
                ) from None
            raise PrerequisiteError(
                f"cannot read the cluster's nodes: {describe(exc)}",
                hint="check --kubeconfig/--context and that this agent may list nodes "
                "(the orchestrator's ClusterRole grants it)",
            ) from None
        return node_capacity(nodes)

    # ------------------------------------------------------------------ plumbing

    async def _client(self) -> JobCalls:
        async with self._lock:
            if self._calls is None:
                api = await open_client(self.kube.target)
                self._calls = JobCalls(
                    api,
                    self.kube.namespace,
                    request_timeout=self.kube.request_timeout,
                    attempts=self.kube.attempts,
                    backoff_max=self.kube.backoff_max,
                )
            return self._calls

    async def _watching(self) -> JobCalls:
        """The calls, with this spoke's Jobs and pods watched from the first use on."""
        calls = await self._client()
        if self._jobs is None:
            selector = spoke_selector(self.kube.job.spoke)
            self._jobs, self._pods = calls.informers(selector, self.kube.watch_seconds)
            self._tasks = [
                asyncio.create_task(informer.run(), name=f"watch {informer.what}")
                for informer in (self._jobs, self._pods)
            ]
        return calls

    def _handle(self, job: Obj) -> RunHandle:
        meta = job.get("metadata") or {}
        ref: dict[str, RefValue] = {
            "namespace": self.kube.namespace,
            "job": str(meta.get("name")),
            "uid": str(meta.get("uid") or ""),
        }
        return RunHandle(self.name, ref)

    def _remember(self, job: Obj) -> None:
        assert self._jobs is not None
        self._jobs.put(job)
        self._checked[str(job["metadata"]["name"])] = self.clock()

    async def _create_or_adopt(
        self, calls: JobCalls, manifest: dict[str, Any], request: RunRequest
    ) -> Obj:
        name = str(manifest["metadata"]["name"])
        backoff = Backoff(base=0.2, cap=self.kube.backoff_max)
        last: BaseException = TimeoutError()
        for _ in range(self.kube.attempts):
            try:
                created = await calls.create_job(manifest)
                log.info("created Job %s", name)
                return created
            except Exception as exc:
                if isinstance(exc, ApiException) and exc.status == 409:
                    existing = await self._adoptable(calls, name, request)
                    if existing is not None:
                        return existing
                    continue  # deleted in between: create it again
                if not transient(exc):
                    raise ExecutorError(
                        f"the cluster refused the Job {name}: {describe(exc)}"
                    ) from None
                last = exc
            await asyncio.sleep(backoff.next_delay())
        raise ExecutorError(f"could not create the Job {name}: {describe(last)}")

    async def _adoptable(self, calls: JobCalls, name: str, request: RunRequest) -> Obj | None:
        """The existing Job when it is this very run (a restart or a retried create)."""
        try:
            existing = await calls.get_job(name)
        except Exception as exc:
            message = f"the Job {name} exists but cannot be read: {describe(exc)}"
            raise ExecutorError(message) from None
        if existing is None:
            return None
        if not owns(existing, request.workload, request.generation, self.kube.job.spoke):
            raise ExecutorError(
                f"a Job named {name} already exists in {self.kube.namespace} and is not this run"
            )
        log.info("adopted the existing Job %s instead of creating it again", name)
        return existing

    async def _current(self, calls: JobCalls, name: str) -> Obj | None:
        """The Job as known now: from the watch while it is healthy, else by GET (paced)."""
        assert self._jobs is not None
        cached = self._jobs.objects.get(name)
        age = self.clock() - self._checked.get(name, -math.inf)
        limit = self.kube.resync_seconds if self._jobs.healthy else self.kube.fallback_seconds
        if cached is not None and age < limit:
            return cached
        if age < self.kube.fallback_seconds:  # not known to the watch, read a moment ago
            if cached is not None:
                return cached
            raise _Unknown
        self._checked[name] = self.clock()
        try:
            job = await calls.get_job(name)
        except Exception as exc:
            log.debug("reading Job %s failed: %s", name, describe(exc))
            if cached is not None:
                return cached
            raise _Unknown from None
        if job is None:
            self._jobs.forget(name)
            self._gone.add(name)
        else:
            self._jobs.put(job)
        return job

    async def _status(self, calls: JobCalls, name: str, job: Obj) -> RunStatus:
        pods = self._pods_of(name)
        if needs_pods(job, pods):  # failed, and the watch has not shown how yet: ask once
            try:
                pods = await calls.pods_of(name) or pods
            except Exception as exc:
                log.debug("listing the pods of %s failed: %s", name, describe(exc))
        status = job_status(
            job, pods, now=_now(), unschedulable_after=self.kube.unschedulable_after
        )
        if status.running and self._said.get(name) != status.message:
            self._said[name] = status.message
            if status.message:
                log.info("Job %s: %s", name, status.message)
        return status

    def _pods_of(self, name: str) -> list[Obj]:
        return self._pods.indexed(name) if self._pods is not None else []

    async def _wait_gone(self, calls: JobCalls, name: str, uid: str, timeout: float) -> bool:
        deadline = self.clock() + timeout
        while True:
            try:
                job = await calls.get_job(name)
                if job is None or not same_job(job, uid):
                    self._gone.add(name)
                    return True
            except Exception as exc:
                log.debug("reading Job %s failed: %s", name, describe(exc))
            if self.clock() >= deadline:
                log.info("Job %s is still being deleted; the cluster finishes that", name)
                return False
            await asyncio.sleep(0.25)


def _now() -> datetime:
    return datetime.now(UTC)


def _uid(handle: RunHandle) -> str:
    return str(handle.ref.get("uid") or "")


def _replaced(name: str) -> RunStatus:
    return RunStatus(
        RunPhase.LOST,
        reason="JobReplaced",
        message=f"the Job {name} was deleted and another Job made under its name",
    )
