"""In-process hub fixtures: the real ASGI app on a SQLite file, driven over httpx2's ASGI
transport, with a fake clock and the scheduler off (tests run passes themselves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

from kindfleet.platform.hub.api.app import create_app
from kindfleet.platform.hub.settings import HubSettings
from kindfleet.platform.hub.testing import FakeClock

CLIENT_TOKEN = "client-token-unit-0123456789abcdef"
BOOTSTRAP_TOKEN = "bootstrap-token-unit-0123456789abcdef"
SPEC = {"name": "train", "command": ["python", "train.py"]}
CAPACITY = {"cpu_millis": 4000, "memory_bytes": 8 * 2**30, "gpus": 1}


class Api:
    """The app, an HTTP client on it, and shortcuts for the usual calls."""

    def __init__(self, app: Any, http: httpx2.AsyncClient, clock: FakeClock) -> None:
        self.app = app
        self.http = http
        self.clock = clock
        self.hub = app.state.hub
        self.client_token = CLIENT_TOKEN
        self.bootstrap_token = BOOTSTRAP_TOKEN
        self.client = {"Authorization": f"Bearer {CLIENT_TOKEN}"}
        self.bootstrap = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
        self.credentials: dict[str, str] = {}

    def spoke(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials[name]}"}

    async def submit(self, key: str = "k1", spec: dict[str, Any] | None = None) -> httpx2.Response:
        headers = {**self.client, "Idempotency-Key": key}
        return await self.http.post("/v1/workloads", json=spec or SPEC, headers=headers)

    async def join_token(self, name: str, **body: Any) -> str:
        response = await self.http.post(
            f"/v1/spokes/{name}/join-tokens", json=body, headers=self.client
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    async def register(self, name: str, **extra: Any) -> dict[str, Any]:
        body = {"name": name, "capacity": CAPACITY, "executor": "process", **extra}
        token = {"Authorization": f"Bearer {await self.join_token(name)}"}
        response = await self.http.post("/v1/spokes/register", json=body, headers=token)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        self.credentials[name] = data["credential"]
        return data


async def busy_store(api: Api) -> list[str]:
    """Work in every state: pending, assigned, running, succeeded, failed with a message,
    retried, cancelled; labels to filter on."""
    ids = []
    for i in range(12):
        spec = {"name": f"w{i}", "command": ["x", "é\n\"\x01"], "labels": {"team": f"t{i % 3}"},
                "retry": {"max_retries": 1}, "timeout_seconds": 1.5 + i}  # fmt: skip
        response = await api.submit(f"k{i}", spec)
        ids.append(response.json()["workload"]["id"])
    await api.register("s1")
    await api.hub.tick()
    batch = (await api.http.get("/v1/spokes/s1/assignments", headers=api.spoke("s1"))).json()
    events, seq = [], 0
    for n, item in enumerate(batch["items"][:6]):
        kinds = [("started", None)] + [[], [("succeeded", 0)], [("failed", 3)]][n % 3]
        for kind, code in kinds:
            seq += 1
            events.append({"seq": seq, "workload": item["workload"], "generation": item["generation"],
                           "type": kind, "at": "2024-01-02T03:04:05.678Z", "exit_code": code,
                           "message": "boom \u2028 \x7f" if kind == "failed" else None})  # fmt: skip
    response = await api.http.post(
        "/v1/spokes/s1/events", json={"events": events}, headers=api.spoke("s1")
    )
    assert response.status_code == 200, response.text
    await api.http.post(f"/v1/workloads/{ids[-1]}/cancel", headers=api.client)
    return ids


def settings_for(tmp_path: Path, **overrides: Any) -> HubSettings:
    values: dict[str, Any] = {
        "store": f"sqlite:///{tmp_path / 'hub.db'}",
        "client_token": CLIENT_TOKEN,
        "fleet_token": BOOTSTRAP_TOKEN,
        "scheduler": False,
    }
    values.update(overrides)
    return HubSettings(**values)


@pytest.fixture(params=[True, False], ids=["fast-path", "fastapi-route"])
def fast_path(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def api(tmp_path: Path) -> Any:
    clock = FakeClock()
    app = create_app(settings_for(tmp_path), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://hub") as http:
            yield Api(app, http, clock)


@pytest.fixture
async def api_both(tmp_path: Path, fast_path: bool) -> Any:
    """The app with and without the submission fast path."""
    clock = FakeClock()
    app = create_app(settings_for(tmp_path), clock=clock, fast_path=fast_path)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://hub") as http:
            yield Api(app, http, clock)


@pytest.fixture
async def scheduled_api(tmp_path: Path) -> Any:
    """The app with its scheduler running on the real clock, as in production."""
    app = create_app(settings_for(tmp_path, scheduler=True, tick_seconds=0.2))
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://hub") as http:
            yield Api(app, http, FakeClock())


@pytest.fixture
def spec_body() -> dict[str, Any]:
    return dict(SPEC)
