"""A label-selected, always-current copy of one namespaced resource: list once, then watch
from the list's resourceVersion, resume each watch where the last one stopped, and list
again when the server says that version is gone (410) or anything else breaks.

This is what lets the agent poll its runs every fraction of a second at no cost to the API
server: one watch per resource for the whole spoke, however many runs it holds. The events
are read as the API's JSON, without building client models, and the client's own `Watch`
helper is not used because it opens a second, globally configured ApiClient of its own.
An unreachable API server stops nothing: the copy goes stale (`healthy` turns False, and
the executor falls back to GETs) and is rebuilt by a fresh list when the server is back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from kindfleet.platform.agent import logs
from kindfleet.platform.agent.backoff import Backoff
from kindfleet.platform.agent.executors.kubernetes.api import describe, read_json
from kindfleet.platform.agent.metrics import LineSplitter

log = logs.get("kubewatch")

ListCall = Callable[..., Awaitable[Any]]
MAX_EVENT_BYTES = 16 << 20  # far above the API server's object size limit
Obj = dict[str, Any]


class Expired(Exception):
    """The resourceVersion to resume from is gone (410): list again."""


class Informer:
    """`objects` by name, for `list_call(namespace, label_selector=selector)`; with `index`,
    also by that key (pods by their Job), so a lookup does not scan every object."""

    def __init__(
        self,
        what: str,
        list_call: ListCall,
        namespace: str,
        selector: str,
        *,
        watch_seconds: int = 240,
        connect_timeout: float = 10.0,
        backoff_max: float = 10.0,
        index: Callable[[Obj], str | None] | None = None,
    ) -> None:
        self.what = what
        self.list_call = list_call
        self.namespace = namespace
        self.selector = selector
        self.watch_seconds = watch_seconds
        self.connect_timeout = connect_timeout
        self.backoff_max = backoff_max
        self.index = index
        self.objects: dict[str, Obj] = {}
        self._keyed: dict[str, dict[str, Obj]] = {}  # index key -> name -> object
        self.healthy = False
        self.synced = asyncio.Event()  # set once the first list has been applied
        self._learnt = 0  # events (bookmarks too) read since the last list

    def indexed(self, key: str) -> list[Obj]:
        return list(self._keyed.get(key, {}).values())

    def put(self, obj: Obj) -> None:
        """Record an object (from an event, or what the caller just learnt by a create or
        a GET)."""
        name = _name(obj)
        if not name:
            return
        self.forget(name)
        self.objects[name] = obj
        key = self.index(obj) if self.index else None
        if key is not None:
            self._keyed.setdefault(key, {})[name] = obj

    def forget(self, name: str) -> None:
        old = self.objects.pop(name, None)
        key = self.index(old) if old is not None and self.index else None
        if key is not None and key in self._keyed:
            self._keyed[key].pop(name, None)
            if not self._keyed[key]:
                del self._keyed[key]

    async def run(self) -> None:
        """List and watch until cancelled; never raises anything else."""
        backoff = Backoff(cap=self.backoff_max)
        relist = Backoff(base=0.2, cap=self.backoff_max)
        failing = False
        while True:
            try:
                version = await self._list()
                self.healthy = True
                if failing:
                    log.info("watching %s again", self.what)
                failing = False
                backoff.reset()
                while True:
                    version = await self._watch(version)
            except asyncio.CancelledError:
                raise
            except Expired:
                log.debug("%s: resourceVersion expired, listing again", self.what)
                if self._learnt:  # the watch worked a while: list again at once
                    relist.reset()
                else:  # expired straight after a list: a server that says so every time
                    await asyncio.sleep(relist.next_delay())  # is not asked in a tight loop
                continue
            except Exception as exc:
                self.healthy = False
                if not failing:
                    log.warning("watching %s failed (%s); retrying", self.what, describe(exc))
                failing = True
                await asyncio.sleep(backoff.next_delay())

    async def _list(self) -> str:
        response = await self.list_call(
            self.namespace,
            label_selector=self.selector,
            _preload_content=False,
            _request_timeout=self.connect_timeout * 3,
        )
        body = await read_json(response)
        self._learnt = 0
        items = [obj for obj in body.get("items") or [] if _selected(obj, self.selector)]
        self.objects, self._keyed = {}, {}
        for obj in items:
            self.put(obj)
        self.synced.set()
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, version: str) -> str:
        """One watch request from `version`; the version to resume from when it ends."""
        kwargs: dict[str, Any] = {
            "label_selector": self.selector,
            "watch": True,
            "allow_watch_bookmarks": True,
            "timeout_seconds": self.watch_seconds,
            "_preload_content": False,
            "_request_timeout": aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.connect_timeout,
                sock_read=self.watch_seconds + self.connect_timeout,
            ),
        }
        if version:
            kwargs["resource_version"] = version
        response = await self.list_call(self.namespace, **kwargs)
        try:
            if response.status == 410:
                raise Expired
            if response.status >= 400:
                raise ApiException(status=response.status, reason=response.reason)
            lines = LineSplitter(max_line=MAX_EVENT_BYTES)  # no per-line limit of aiohttp's
            while True:
                try:
                    chunk = await response.content.readany()
                except TimeoutError:
                    return version  # quiet for too long: resume from where we are
                if not chunk:
                    return version  # the server ended this watch (timeout_seconds)
                for line in lines.feed(chunk):
                    if line.strip():
                        version = self._apply(json.loads(line), version)
        finally:
            response.release()

    def _apply(self, event: Obj, version: str) -> str:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Expired
            raise ApiException(status=obj.get("code"), reason=obj.get("message"))
        self._learnt += 1
        version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
        name = _name(obj)
        if kind == "BOOKMARK" or not name or not _selected(obj, self.selector):
            return version
        if kind == "DELETED":
            self.forget(name)
        else:
            self.put(obj)
        return version


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _selected(obj: Obj, selector: str) -> bool:
    """Equality selectors (`k=v,k2=v2`) checked here too: not every server honours them."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True
