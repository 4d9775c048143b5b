"""The informer's list-then-watch cycle against a scripted API: it resumes each watch from
the last resourceVersion it saw, lists again when that version is gone (410), and survives
a failing server, rebuilding its copy when the server answers again."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kindfleet.platform.agent.executors.kubernetes.watch import Informer


def obj(name: str, version: str, spoke: str = "spoke1", **status: Any) -> dict:
    labels = {"kindfleet.dev/spoke": spoke}
    return {
        "metadata": {"name": name, "resourceVersion": version, "labels": labels},
        "status": status,
    }


class Response:
    """What a `_preload_content=False` call returns: an aiohttp-like response."""

    def __init__(self, status: int = 200, body: Any = None, events: list | None = None) -> None:
        self.status = status
        self.reason = "scripted"
        self.body = body
        self.lines = [json.dumps(e).encode() + b"\n" for e in events or []]
        self.content = self
        self.released = False

    async def read(self) -> bytes:
        return json.dumps(self.body).encode()

    async def readany(self) -> bytes:
        if self.lines:  # an event split across two chunks, as the network may deliver it
            line = self.lines.pop(0)
            half = len(line) // 2
            if half and not getattr(self, "split", False):
                self.split = True
                self.lines.insert(0, line[half:])
                return line[:half]
            self.split = False
            return line
        if self.status == 200 and self.body == "hang":
            await asyncio.Event().wait()
        return b""

    def release(self) -> None:
        self.released = True


class ScriptedApi:
    def __init__(self, answers: list[Response]) -> None:
        self.answers = answers
        self.calls: list[dict] = []
        self.done = asyncio.Event()

    async def list_jobs(self, namespace: str, **kwargs: Any) -> Response:
        self.calls.append({"namespace": namespace, **kwargs})
        if not self.answers:
            self.done.set()
            return Response(body="hang")
        return self.answers.pop(0)


def kinds(calls: list[dict]) -> list[tuple[str, str | None]]:
    return [("watch" if c.get("watch") else "list", c.get("resource_version")) for c in calls]


async def run(api: ScriptedApi, informer: Informer) -> None:
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(api.done.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_resume_from_the_last_version_and_relist_on_410():
    api = ScriptedApi(
        [
            Response(body={"metadata": {"resourceVersion": "10"}, "items": [obj("a", "9")]}),
            Response(
                events=[
                    {"type": "MODIFIED", "object": obj("a", "11", succeeded=1)},
                    {"type": "ADDED", "object": obj("b", "12")},
                    {"type": "ADDED", "object": obj("stranger", "13", spoke="spoke2")},
                    {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "14"}}},
                ]
            ),  # then the server ends the watch
            Response(events=[{"type": "ERROR", "object": {"code": 410, "message": "too old"}}]),
            Response(body={"metadata": {"resourceVersion": "20"}, "items": [obj("b", "19")]}),
        ]
    )
    informer = Informer("jobs", api.list_jobs, "ns", "kindfleet.dev/spoke=spoke1")
    await run(api, informer)
    assert kinds(api.calls) == [
        ("list", None),
        ("watch", "10"),
        ("watch", "14"),  # resumed after the bookmark, not from the list's version
        ("list", None),  # 410: that version is gone
        ("watch", "20"),
    ]
    assert all(c["label_selector"] == "kindfleet.dev/spoke=spoke1" for c in api.calls)
    assert set(informer.objects) == {"b"}  # a was deleted while nobody watched
    assert informer.healthy


async def test_a_failing_server_makes_it_unhealthy_until_a_list_works():
    api = ScriptedApi(
        [
            Response(status=503, body={"message": "overloaded"}),
            Response(body={"metadata": {"resourceVersion": "5"}, "items": [obj("a", "5")]}),
        ]
    )
    informer = Informer("jobs", api.list_jobs, "ns", "kindfleet.dev/spoke=spoke1", backoff_max=0.05)
    seen: list[bool] = []

    async def observe() -> None:
        while True:
            seen.append(informer.healthy)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(observe())
    await run(api, informer)
    watcher.cancel()
    assert kinds(api.calls)[:3] == [("list", None), ("list", None), ("watch", "5")]
    assert seen[0] is False  # not healthy while the server failed
    assert informer.healthy
    assert set(informer.objects) == {"a"}
    assert informer.synced.is_set()
