"""The published OpenAPI document: what the hub really answers, and in what form.

Routes read their JSON bodies themselves (see `bodies`), so FastAPI cannot see them; each
route names its body model here and the schemas are added to the document's components.
The document then says what the routes really do: every error is `application/problem+json`
(a `ProblemDetail`), a body of the wrong type is 415, too large 413, every call but the
probes needs a bearer token, `/metrics` is Prometheus text.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from kindfleet.platform.hub.api.problems import PROBLEM
from kindfleet.platform.wire import ProblemDetail

REF = "#/components/schemas/{model}"
_BODIES: list[type[BaseModel]] = []
_PROBLEM_REF = {"$ref": REF.format(model="ProblemDetail")}

_WHY = {
    400: "the request is not HTTP the hub understands",
    401: "missing or invalid token",
    403: "a valid token of the wrong kind",
    404: "no such resource",
    405: "the path takes other methods (see Allow)",
    409: "refused: conflicts with the current state (the detail says why)",
    413: "the body is larger than 32 MiB",
    415: "the body is not application/json",
    422: "invalid request; errors name each field",
    503: "the store is unavailable",
}
COMMON = (401, 403, 405, 422, 503)
PROBE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}, "description": "ok"},
    405: {"description": _WHY[405], "model": ProblemDetail},
    503: {"description": _WHY[503], "model": ProblemDetail},
}
METRICS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/plain": {"schema": {"type": "string"}}},
        "description": "Prometheus text exposition",
    }
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses` for the errors a route answers beyond the common ones."""
    return {code: {"model": ProblemDetail, "description": _WHY[code]} for code in codes}


def body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body is `model`."""
    if model not in _BODIES:
        _BODIES.append(model)
    schema = {"$ref": REF.format(model=model.__name__)}
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}
    }


def install(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                separate_input_output_schemas=False,
            )
            _, defs = models_json_schema([(m, "validation") for m in _BODIES], ref_template=REF)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in defs.get("$defs", {}).items():
                schemas.setdefault(name, schema)
            _as_built(doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def _as_built(doc: dict[str, Any]) -> None:
    """Errors as problem documents, the statuses every route may answer, bearer auth."""
    doc["components"].setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "the client token, a spoke's credential, or a join token (register)",
    }
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            probe = path in ("/healthz", "/readyz")
            op["security"] = [] if probe else [{"bearer": []}]
            responses = op.setdefault("responses", {})
            responses.pop("422", None) if probe else None
            codes = (405, 503) if probe else COMMON
            if "requestBody" in op:
                codes = (*codes, 413, 415)
            for code in codes:
                responses.setdefault(str(code), {"description": _WHY[code]})
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM: {"schema": _PROBLEM_REF}}
            del method
