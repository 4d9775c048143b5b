"""The JSON reads and the one report the dashboard adds to the API (client token only).

`PUT /v1/faults` is how fleet tooling tells the hub what `kindfleet fault` broke: the hub
never reads the fleet's state and imports no fleet tooling, so the fleet reports to it
through the API, the way every other client does. `GET /v1/activity` is the dashboard's
throughput view as data.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from kindfleet.platform.hub.api import openapi
from kindfleet.platform.hub.api.authn import Client
from kindfleet.platform.hub.api.bodies import json_response, read_model
from kindfleet.platform.hub.service.dashboard import Dashboard
from kindfleet.platform.wire import API_PREFIX, Activity, FaultBoard, FaultReport


def install(app: FastAPI, board: Dashboard) -> None:
    v1 = API_PREFIX

    @app.get(f"{v1}/faults", response_model=FaultBoard, tags=["dashboard"])
    async def faults(_: Client) -> Response:
        """The faults fleet tooling last reported (`kindfleet fault`), and when."""
        return json_response(board.faults.board())

    @app.put(
        f"{v1}/faults",
        response_model=FaultBoard,
        openapi_extra=openapi.body(FaultReport),
        tags=["dashboard"],
    )
    async def report_faults(request: Request, _: Client) -> Response:
        """Every fault record of the fleet; replaces the previous report."""
        report = await read_model(request, FaultReport)
        return json_response(board.report_faults(report))

    @app.get(f"{v1}/activity", response_model=Activity, tags=["dashboard"])
    async def activity(_: Client) -> Response:
        """Submissions and placements per interval, and the states, over the last minutes."""
        return json_response(board.activity.view())
