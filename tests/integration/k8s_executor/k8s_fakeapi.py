"""The fake Kubernetes API for the executor's tests (unit and end-to-end): kmock's emulator,
made to understand kubernetes-asyncio's watches, and what the tests do to it in place of
the controllers it does not have (the Job controller, the kubelet)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
import yaml
from typing_extensions import override

NAMESPACE = "platform-workloads"
JOBS = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"


@dataclass
class Fault:
    """The API server failing a request: `status` without doing anything (`done=False`), or
    after doing it, the answer lost (`done=True`); status 0 drops the connection instead,
    and `hang` never answers at all."""

    method: str
    path: str
    status: int
    done: bool = False
    times: int | None = None  # None: every time until removed
    watch: bool | None = None  # None: watches and plain requests alike
    hang: bool = False

    def matches(self, request: kmock.Request) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        is_watch = request.action == kmock.action.WATCH
        return (
            str(request.method).upper().endswith(self.method)
            and request.url.path == self.path
            and (self.watch is None or self.watch == is_watch)
        )


class K8sAsyncioEmulator(kmock.KubernetesEmulator):
    """kubernetes-asyncio sends ?watch=True (Python bool); kmock 0.8 only detects ?watch=true.

    Like a real API server (and unlike kmock), a created object gets a `metadata.uid`, a
    delete with a uid precondition deletes only that object (409 otherwise), and `faults`
    make requests fail as an overloaded or flaky server makes them fail. `arrived` holds
    when each request (by its id) came in."""

    faults: list[Fault]
    arrived: dict[int, float]

    def fail(self, fault: Fault) -> Fault:
        if not hasattr(self, "faults"):
            self.faults = []
        self.faults.append(fault)
        return fault

    @override
    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.method == "GET" and request.params.get("watch", "").lower() in ("true", "1"):
            # Request is attrs-frozen AND matched by identity against kmock's request log,
            # so attrs.evolve() would match no reaction -> mutate in place.
            object.__setattr__(request, "action", kmock.action.WATCH)
        if not hasattr(self, "arrived"):
            self.arrived = {}
        self.arrived[request.id] = time.monotonic()
        if request.action == kmock.action.CREATE and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if isinstance(meta, dict) and not meta.get("uid"):
                meta["uid"] = str(uuid.uuid4())
        fault = next((f for f in getattr(self, "faults", []) if f.matches(request)), None)
        if fault is None:
            if self._precondition_fails(request):
                body = {"kind": "Status", "code": 409, "message": "Precondition failed: UID"}
                return aiohttp.web.json_response(body, status=409)
            return await super()._handle(request)
        if fault.times is not None:
            fault.times -= 1
        if fault.done:
            await super()._handle(request)
        if fault.hang:
            await asyncio.Event().wait()
        if fault.status == 0 and request._raw_request is not None:
            transport = request._raw_request.transport
            if transport is not None:
                transport.close()
        status = fault.status or 500
        body = {"kind": "Status", "code": status, "message": "injected fault"}
        return aiohttp.web.json_response(body, status=status)

    def _precondition_fails(self, request: kmock.Request) -> bool:
        if request.action != kmock.action.DELETE or not isinstance(request.data, dict):
            return False
        uid = (request.data.get("preconditions") or {}).get("uid")
        key = (request.resource, request.namespace, request.name)
        if not uid or key not in self.objects or self.objects[key].deleted:
            return False
        return bool(self.objects[key].get("metadata", {}).get("uid") != uid)


def prepare(api: kmock.KubernetesEmulator) -> None:
    """Declare the resources the executor lists, so an empty list is a list, not a 404."""
    api.resources["batch/v1/jobs"] = {}
    api.resources["v1/pods"] = {}
    api.resources["v1/nodes"] = {}


def write_kubeconfig(path: Path, api: kmock.KubernetesEmulator, context: str = "fake") -> Path:
    """A kubeconfig whose `context` points at the emulator (plain HTTP; no auth checked)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": str(api.url).rstrip("/")}}],
        "users": [{"name": "fake", "user": {"token": "not-checked"}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": "fake", "user": "fake", "namespace": NAMESPACE},
            }
        ],
        "current-context": "elsewhere",  # the context must be chosen explicitly
    }
    path.write_text(yaml.safe_dump(config))
    return path


def job(api: kmock.KubernetesEmulator, name: str) -> Any:
    return api.objects["batch/v1/jobs", NAMESPACE, name]


def jobs(api: kmock.KubernetesEmulator) -> list[str]:
    return [
        name
        for (res, ns, name), obj in list(api.objects.items())
        if res.plural == "jobs" and ns == NAMESPACE and not obj.deleted
    ]


def requests(api: kmock.KubernetesEmulator, method: str, path: str) -> list[kmock.Request]:
    return [r for r in list(api) if str(r.method).upper().endswith(method) and r.url.path == path]


async def http(api: kmock.KubernetesEmulator, method: str, path: str, body: Any = None) -> Any:
    """A request through kmock's own client, as a controller or the kubelet would send it."""
    call = getattr(api, method.lower())
    async with call(path, json=body) if body is not None else call(path) as response:
        assert response.status < 300, (response.status, await response.text())
        return await response.json()


async def set_job_status(api: kmock.KubernetesEmulator, name: str, status: dict) -> None:
    await http(api, "PATCH", f"{JOBS}/{name}/status", {"status": status})


async def complete(api: kmock.KubernetesEmulator, name: str) -> None:
    await set_job_status(
        api,
        name,
        {
            "active": None,
            "succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    )


async def fail(api: kmock.KubernetesEmulator, name: str, reason: str) -> None:
    await set_job_status(
        api,
        name,
        {
            "active": None,
            "failed": 1,
            "conditions": [{"type": "Failed", "status": "True", "reason": reason}],
        },
    )


async def create_pod(api: kmock.KubernetesEmulator, job_name: str, spoke: str = "spoke1") -> str:
    """The pod the Job controller would create for `job_name`, Running."""
    name = f"{job_name}-x7k2p"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"kindfleet.dev/job": job_name, "kindfleet.dev/spoke": spoke},
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "workload", "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }
    await http(api, "POST", PODS, pod)
    return name


async def eventually(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Wait (without blocking the loop the emulator runs in) until `predicate()` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.05)


def watches(api: kmock.KubernetesEmulator, path: str) -> int:
    """How many watches of `path` were asked for so far."""
    return len([r for r in requests(api, "GET", path) if r.params.get("watch")])


async def watching(api: kmock.KubernetesEmulator, path: str, after: int = 0) -> None:
    """Wait until a watch of `path` (beyond the first `after`) is open.

    A real API server replays nothing it already told a watcher's list; kmock instead has a
    short window after answering a watch before it subscribes it to its event bus, in
    which a change is lost. Tests that change objects right after a start wait here first.
    """
    await eventually(lambda: watches(api, path) > after, what=f"a watch on {path}")
    await asyncio.sleep(0.2)
