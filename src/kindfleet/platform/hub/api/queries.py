"""Query strings as strict as bodies: a parameter the route does not take, or one it takes
once given twice, is refused by name (422).

Found from outside: `?state=Pending&state=Running` answered as the last one said (and the
reverse order otherwise), `?wait=1&wait=2` likewise, and `?stat=Running` (a typo) answered
every workload, as if no filter had been asked for. The parameters each route takes are
read from the app's own OpenAPI document, so the check cannot drift from the routes.
Checked after authentication: an anonymous caller learns no parameter name.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import FastAPI, Request

from kindfleet.platform.hub.service.refusals import Invalid

Takes = dict[tuple[str, str], dict[str, bool]]  # (method, path) -> name -> may repeat


def check(request: Request) -> None:
    path = getattr(request.scope.get("route"), "path", None)
    if path is None:
        return
    method = "GET" if request.method == "HEAD" else request.method
    takes = _takes(request.app).get((method, path), {})
    for name, count in Counter(k for k, _ in request.query_params.multi_items()).items():
        if name not in takes:
            known = ", ".join(sorted(takes)) or "no query parameters"
            raise Invalid.at(f"query.{name}", f"is not a parameter of this route (takes {known})")
        if count > 1 and not takes[name]:
            raise Invalid.at(f"query.{name}", f"is given {count} times: give it once")


def _takes(app: FastAPI) -> Takes:
    found: Takes | None = getattr(app.state, "query_parameters", None)
    if found is None:
        found = {}
        for path, operations in app.openapi().get("paths", {}).items():
            for method, operation in operations.items():
                params = operation.get("parameters", [])
                found[(method.upper(), path)] = {
                    p["name"]: _repeats(p.get("schema", {})) for p in params if p["in"] == "query"
                }
        app.state.query_parameters = found
    return found


def _repeats(schema: dict[str, Any]) -> bool:
    kinds = [schema, *schema.get("anyOf", [])]
    return any(kind.get("type") == "array" for kind in kinds)
