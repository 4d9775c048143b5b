"""An interrupted load says what the hub really holds of it: submissions whose answer was
never read were stored all the same, and work ends while the hub's per-state gauge, which
the live tally shows, still says 0. When the hub cannot be asked, it says so."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aiohttp import web

from kindfleet.fleetspec import from_text
from kindfleet.load import LoadOptions, Progress, run
from kindfleet.platform.client import HubClient
from kindfleet.platform.wire import Workload, WorkloadList, WorkloadSpec, WorkloadState
from tests.doubles.webserver import serving_on_a_thread

TOKEN = "client-token"
ANSWERED = 6  # submissions answered; the next ones are stored, and their answer never comes
CONCURRENCY = 3
FLEET = from_text(
    "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: t\nprovider: local\nspokes: 2\n"
)


class Hub:
    """A hub on a thread of its own: every workload it stores has ended at once, its gauge
    says none has (it lags), and after `ANSWERED` submissions it stops answering them."""

    def __init__(self) -> None:
        self.stored: dict[str, Workload] = {}
        self.listing = True  # False: the list of workloads answers 503
        self.url = ""
        self.release = asyncio.Event()  # the unanswered submissions answer at last

    async def answer(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/metrics":
            return web.Response(text='kindfleet_hub_workloads{state="Succeeded"} 0\n')
        if request.method == "GET":
            return self.list(request)
        spec = WorkloadSpec.model_validate_json(await request.read())
        now = datetime.now(UTC)
        workload = Workload(
            id=f"wl-{len(self.stored):020x}", spec=spec, state=WorkloadState.SUCCEEDED,
            generation=1, submitted_at=now, updated_at=now,
        )  # fmt: skip
        self.stored[request.headers["Idempotency-Key"]] = workload
        if len(self.stored) > ANSWERED:
            await self.release.wait()
        return web.json_response({"workload": workload.model_dump(mode="json"), "created": True})

    def list(self, request: web.Request) -> web.StreamResponse:
        if not self.listing:
            return web.json_response({"title": "x", "status": 503, "detail": "down"}, status=503)
        key, _, value = request.query["label"].partition("=")
        items = [w for w in self.stored.values() if w.spec.labels.get(key) == value]
        return web.Response(text=WorkloadList(items=items).model_dump_json())

    # what the load needs of a fleet
    spec = FLEET

    def hub(self, *, timeout: float = 10.0, kubeconfig: object = None) -> HubClient:
        return HubClient(self.url, TOKEN, timeout=timeout)

    def hub_address(self, *, kubeconfig: object = None) -> tuple[str, str]:
        return self.url, TOKEN


@pytest.fixture
def hub() -> Iterator[Hub]:
    double = Hub()
    with serving_on_a_thread(double.answer, after=double.release.set) as url:
        double.url = url
        yield double


def interrupted(hub: Hub) -> Progress:
    """Run a load, Ctrl-C once the hub holds submissions it has not answered; what the
    run told its progress last."""
    seen = [Progress()]

    def ctrl_c() -> None:
        deadline = time.monotonic() + 10
        while len(hub.stored) < ANSWERED + CONCURRENCY and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=ctrl_c, daemon=True).start()
    options = LoadOptions(requests=40, concurrency=CONCURRENCY)
    with pytest.raises(KeyboardInterrupt):
        run(hub, options, python="python", progress=lambda p: seen.__setitem__(0, p))  # type: ignore[arg-type]
    return seen[0]


def test_an_interrupted_load_counts_what_the_hub_holds_of_it(hub: Hub):
    got = interrupted(hub)
    held = len(hub.stored)
    assert held == ANSWERED + CONCURRENCY  # the answers of the last ones never came
    assert (got.accepted, got.finished) == (held, held)
    assert got.exact
    key, value = got.label.split("=")
    assert all(w.spec.labels[key] == value for w in hub.stored.values())
    from kindfleet.cli.load import _stopped

    said = _stopped(got, 40)
    assert (
        said
        == f"{held} of 40 workloads accepted, {held} finished (counted on the hub after the stop)"
    )


def test_a_hub_that_cannot_be_asked_leaves_the_count_uncertain_and_says_so(hub: Hub):
    hub.listing = False
    got = interrupted(hub)
    assert (got.accepted, got.exact, got.in_flight) == (ANSWERED, False, CONCURRENCY)
    from kindfleet.cli.load import _stopped

    said = _stopped(got, 40)
    assert said.startswith(f"{ANSWERED} of 40 workloads accepted by the answers read")
    assert f"up to {CONCURRENCY} more in flight may be accepted too" in said
    assert "finished not known" in said
