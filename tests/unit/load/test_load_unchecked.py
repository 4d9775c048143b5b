"""A load whose hub goes away (a failover drill beside it) still ends with its result:
a hub back before the deadline is asked again and the result is whole; one still silent
at the deadline leaves the accepted work it could not be asked about `unchecked`, counted
neither lost nor succeeded, with the hub's own words on why and what to do next."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from kindfleet.errors import PrerequisiteError
from kindfleet.fleetspec import from_text
from kindfleet.load import LoadOptions, LoadResult, run
from kindfleet.load.run import Look, settled
from kindfleet.platform.client import HubClient
from kindfleet.platform.wire import Workload, WorkloadList, WorkloadSpec, WorkloadState
from tests.doubles.webserver import serving_on_a_thread

TOKEN = "client-token"
REQUESTS = 12
FLEET = from_text(
    "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: t\nprovider: local\nspokes: 2\n"
)
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def workload(n: int, state: WorkloadState) -> Workload:
    spec = WorkloadSpec(name="w", command=["true"])
    return Workload(id=f"wl-{n:020x}", spec=spec, state=state, generation=1, spoke="a",
                    submitted_at=NOW, updated_at=NOW)  # fmt: skip


# -- what is known when the last look failed -------------------------------------------


def test_a_hub_never_listed_leaves_every_accepted_workload_unchecked():
    ids = {f"wl-{n:020x}" for n in range(5)}
    ours, unchecked = settled(ids, Look([], PrerequisiteError("the hub is not running")))
    assert (ours, unchecked) == ([], 5)


def test_only_ends_the_hub_said_count_once_it_cannot_be_asked():
    """Ended is final; Running may have moved on since, so it is not known, not lost."""
    listed = [workload(0, WorkloadState.SUCCEEDED), workload(1, WorkloadState.FAILED),
              workload(2, WorkloadState.RUNNING)]  # fmt: skip
    ids = {f"wl-{n:020x}" for n in range(4)}  # the fourth was never listed
    ours, unchecked = settled(ids, Look(listed, PrerequisiteError("down")))
    assert [w.id for w in ours] == [listed[0].id, listed[1].id]
    assert unchecked == 2


def test_a_hub_that_answered_last_is_believed_as_before():
    listed = [workload(0, WorkloadState.SUCCEEDED), workload(1, WorkloadState.RUNNING)]
    ids = {f"wl-{n:020x}" for n in range(3)}
    assert settled(ids, Look(listed)) == (listed, 0)  # the rest are lost, not unchecked


def test_the_summary_and_the_verdict_name_the_unchecked():
    from kindfleet.cli.load import _unchecked

    result = LoadResult(
        fleet="f", requests=10, accepted=10, errors={}, lost=1, duplicated=0,
        submit_seconds=1.0, total_seconds=2.0, unchecked=7,
        unchecked_why="cannot reach the hub at http://127.0.0.1:9: connection refused",
        unchecked_hint="the hub's cluster f-hub is held by a fault (`kill`): ...",
        label="kindfleet.dev/load=abc",
    )  # fmt: skip
    summary = result.summary()
    assert (summary["unchecked"], summary["lost"], summary["label"]) == (
        7, 1, "kindfleet.dev/load=abc",
    )  # fmt: skip
    assert "connection refused" in summary["unchecked_why"]
    message, hint = _unchecked(result, Path("fleet.yaml"))
    assert message.startswith("lost 1, duplicated 0, unchecked 7 of 10 accepted")
    assert "connection refused" in message and "neither lost nor succeeded" in message
    assert hint.startswith("the hub's cluster f-hub is held by a fault")
    assert "`kindfleet workloads -f fleet.yaml -l kindfleet.dev/load=abc`" in hint


def test_with_no_hint_of_its_own_the_verdict_says_to_check_the_hub():
    from kindfleet.cli.load import _unchecked

    result = LoadResult(fleet="f", requests=1, accepted=1, errors={}, lost=0, duplicated=0,
                        submit_seconds=1, total_seconds=1, unchecked=1)  # fmt: skip
    _, hint = _unchecked(result, Path("f.yaml"))
    assert hint.startswith("check the hub with `kindfleet status -f f.yaml`")


# -- a whole run against a hub that goes away --------------------------------------------


class Hub:
    """A hub on a thread of its own whose work ends at once. It goes down (503 to every
    request) as it answers the last submission, or, `when_counted`, as its gauge first
    says every one has ended (the run then looks at its workloads: a hub gone just then);
    it is back `back_after` seconds later, if ever. `refuse`: it answers the listing 401
    (a refusal no retry mends)."""

    def __init__(self, back_after: float | None, *, when_counted: bool = False) -> None:
        self.stored: dict[str, Workload] = {}
        self.back_after = back_after
        self.when_counted = when_counted
        self.down_at: float | None = None
        self.refuse = False
        self.lists = 0  # listings answered (up or down)
        self.url = ""

    def down(self) -> bool:
        if self.down_at is None:
            return False
        return self.back_after is None or time.monotonic() < self.down_at + self.back_after

    async def answer(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path != "/metrics":
            self.lists += 1
            if self.refuse:
                return web.json_response({"title": "x", "status": 401, "detail": "no"}, status=401)
        if self.down():
            return web.json_response({"title": "x", "status": 503, "detail": "down"}, status=503)
        if request.path == "/metrics":
            ended = len(self.stored) if len(self.stored) == REQUESTS else 0
            if ended and self.when_counted and self.down_at is None:
                self.down_at = time.monotonic()
            return web.Response(text=f'kindfleet_hub_workloads{{state="Succeeded"}} {ended}\n')
        if request.method == "GET":
            items = list(self.stored.values())
            return web.Response(text=WorkloadList(items=items).model_dump_json())
        spec = WorkloadSpec.model_validate_json(await request.read())
        now = datetime.now(UTC)
        stored = Workload(
            id=f"wl-{len(self.stored):020x}", spec=spec, state=WorkloadState.SUCCEEDED,
            generation=1, spoke="t-spoke-1", submitted_at=now, updated_at=now,
        )  # fmt: skip
        self.stored[request.headers["Idempotency-Key"]] = stored
        if len(self.stored) == REQUESTS and not self.when_counted:
            self.down_at = time.monotonic()  # it dies as its last answer leaves
        return web.json_response({"workload": stored.model_dump(mode="json"), "created": True})

    # what the load needs of a fleet
    spec = FLEET

    def hub(self, *, timeout: float = 10.0, kubeconfig: object = None) -> HubClient:
        return HubClient(self.url, TOKEN, timeout=timeout)

    def hub_address(self, *, kubeconfig: object = None) -> tuple[str, str]:
        return self.url, TOKEN


def serve(double: Hub) -> Iterator[Hub]:
    with serving_on_a_thread(double.answer) as url:
        double.url = url
        yield double


@pytest.fixture
def gone() -> Iterator[Hub]:
    yield from serve(Hub(back_after=None))


@pytest.fixture
def restarted() -> Iterator[Hub]:
    yield from serve(Hub(back_after=1.5, when_counted=True))


def load(hub: Hub, timeout: float) -> tuple[LoadResult, float]:
    options = LoadOptions(requests=REQUESTS, concurrency=3, timeout=timeout)
    began = time.monotonic()
    result = run(hub, options, python="python")  # type: ignore[arg-type]
    return result, time.monotonic() - began


def test_a_hub_gone_at_the_deadline_leaves_a_result_with_the_work_unchecked(gone: Hub):
    result, took = load(gone, timeout=1.5)
    assert (result.accepted, result.unchecked, result.lost, result.duplicated) == (
        REQUESTS, REQUESTS, 0, 0,
    )  # fmt: skip
    assert result.states == {} and "cannot serve" in result.unchecked_why
    assert result.label.startswith("kindfleet.dev/load=")
    assert gone.lists >= 1  # it was asked, at the deadline, and did not answer
    assert took < 1.5 + 10  # the deadline bounds the asking (plus one request at most)


def test_a_hub_back_before_the_deadline_is_asked_again_and_the_result_is_whole(
    restarted: Hub,
):
    result, _ = load(restarted, timeout=30)
    assert restarted.lists >= 2  # asked while down, and again once back
    assert (result.accepted, result.unchecked, result.lost, result.duplicated) == (
        REQUESTS, 0, 0, 0,
    )  # fmt: skip
    assert result.states == {"Succeeded": REQUESTS} and result.unchecked_why == ""


@pytest.fixture
def refusing() -> Iterator[Hub]:
    double = Hub(back_after=0.0)
    double.refuse = True
    yield from serve(double)


def test_a_hub_refusing_the_listing_is_not_asked_again_until_the_deadline(refusing: Hub):
    """A 401 is no outage: no retry mends it, and the run does not wait out --timeout."""
    result, took = load(refusing, timeout=60)
    assert result.unchecked == REQUESTS and "401" in result.unchecked_why
    assert refusing.lists == 1 and took < 30
