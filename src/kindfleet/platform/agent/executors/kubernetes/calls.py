"""The handful of API calls the kubernetes executor makes, in one namespace, as the API's
JSON: create, read and delete a Job, list a Job's pods and the cluster's nodes, and the two
watches. Kept apart from the executor so that what it decides (adopt, lost, wait) reads
without the client's keyword noise, and the retry rule is written once: only what is worth
retrying (unreachable, overloaded, timed out) is retried, a few times (or, for what must
not be given up, until the API server answers), with backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from kubernetes_asyncio.client import ApiClient, BatchV1Api, CoreV1Api, V1DeleteOptions, V1Job
from kubernetes_asyncio.client.exceptions import ApiException

from kindfleet.platform.agent import logs
from kindfleet.platform.agent.backoff import Backoff
from kindfleet.platform.agent.executors.kubernetes.api import describe, read_json, transient
from kindfleet.platform.agent.executors.kubernetes.jobs import JOB_LABEL
from kindfleet.platform.agent.executors.kubernetes.watch import Informer, Obj

T = TypeVar("T")
log = logs.get("kubernetes")
_POD_JOB_LABELS = (JOB_LABEL, "batch.kubernetes.io/job-name", "job-name")


class JobCalls:
    def __init__(
        self,
        api: ApiClient,
        namespace: str,
        *,
        request_timeout: float = 10.0,
        attempts: int = 4,
        backoff_max: float = 10.0,
    ) -> None:
        self.api = api
        self.batch = BatchV1Api(api)
        self.core = CoreV1Api(api)
        self.namespace = namespace
        self.timeout = request_timeout
        self.attempts = attempts
        self.backoff_max = backoff_max

    async def create_job(self, manifest: dict[str, Any]) -> Obj:
        """The created Job; ApiException as the server answered (409 when it exists)."""
        return await read_json(
            await self.batch.create_namespaced_job(
                self.namespace,
                _job_body(manifest),
                _preload_content=False,
                _request_timeout=self.timeout,
            )
        )

    async def get_job(self, name: str) -> Obj | None:
        """The Job, or None when it does not exist; other errors are raised."""
        try:
            return await read_json(
                await self.batch.read_namespaced_job(
                    name, self.namespace, _preload_content=False, _request_timeout=self.timeout
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def delete_job(self, name: str, propagation: str, uid: str = "") -> None:
        """Delete the Job and, by `propagation`, its pods; a Job already gone is fine. With
        `uid`, only that very Job: the server answers 409 when the name now holds another."""
        options: dict[str, Any] = {"propagationPolicy": propagation}
        if uid:
            options["preconditions"] = {"uid": uid}
        try:
            await read_json(
                await self.batch.delete_namespaced_job(
                    name,
                    self.namespace,
                    propagation_policy=propagation,
                    body=cast(V1DeleteOptions, options),  # sent as it is, like `_job_body`
                    _preload_content=False,
                    _request_timeout=self.timeout,
                )
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    async def pods_of(self, job: str) -> list[Obj]:
        answer = await read_json(
            await self.core.list_namespaced_pod(
                self.namespace,
                label_selector=f"{JOB_LABEL}={job}",
                _preload_content=False,
                _request_timeout=self.timeout,
            )
        )
        return [p for p in answer.get("items") or [] if job_of(p) == job]

    async def nodes(self) -> list[Obj]:
        answer = await read_json(
            await self.core.list_node(_preload_content=False, _request_timeout=self.timeout)
        )
        return list(answer.get("items") or [])

    def informers(self, selector: str, watch_seconds: int) -> tuple[Informer, Informer]:
        """Watches of the Jobs and of the pods that `selector` picks (pods indexed by Job)."""
        options: dict[str, Any] = {
            "watch_seconds": watch_seconds,
            "connect_timeout": self.timeout,
            "backoff_max": self.backoff_max,
        }
        ns = self.namespace
        jobs = Informer("jobs", self.batch.list_namespaced_job, ns, selector, **options)
        pods = Informer(
            "pods", self.core.list_namespaced_pod, ns, selector, index=job_of, **options
        )
        return jobs, pods

    async def retrying(
        self, call: Callable[[], Awaitable[T]], *, until_answered: str | None = None
    ) -> T:
        """`call()`, again after a transient failure, up to `attempts` times; with
        `until_answered` (what the call does, for the log), for as long as the API server
        cannot be reached: what must not be given up (a stop reported with its Job still
        running leaves that Job running, forgotten)."""
        backoff = Backoff(base=0.2, cap=self.backoff_max)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except Exception as exc:
                if not transient(exc) or (until_answered is None and attempt == self.attempts):
                    raise
                if until_answered is not None and attempt == 1:
                    log.warning(
                        "cannot %s now (%s); trying until the API server answers",
                        until_answered,
                        describe(exc),
                    )
            await asyncio.sleep(backoff.next_delay())


def job_of(pod: Mapping[str, Any]) -> str | None:
    """The name of the Job a pod belongs to, by its labels."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return next((str(labels[key]) for key in _POD_JOB_LABELS if labels.get(key)), None)


def _job_body(manifest: dict[str, Any]) -> V1Job:
    """The stubs want a V1Job; the client serialises a plain dict as it is (camelCase JSON),
    and the dict is what `kubejobs` renders and the tests validate."""
    return cast(V1Job, manifest)
