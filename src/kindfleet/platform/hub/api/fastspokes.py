"""The spoke protocol's two hot routes without the framework: what `fastpath` answers
itself of `POST /v1/spokes/{name}/events` and `GET /v1/spokes/{name}/assignments`.

Every spoke posts its reports and long-polls for work all the time; measured in the load
test (issue 17), FastAPI's layers around these two (dependencies, path and query
validation, its middleware) held the hub's GIL longer than the store work they lead to.
As with the reads (`fastreads`), only what is certainly well formed is answered here: a
name the route's pattern takes, no query but one `wait` written plainly; anything else
goes to the route, which stays the reference.
"""

from __future__ import annotations

import re

from kindfleet.platform.hub.service.reads import is_name
from kindfleet.platform.wire import API_PREFIX

PREFIX = f"{API_PREFIX}/spokes/"
EVENTS = "events"
ASSIGNMENTS = "assignments"
EVENTS_TEMPLATE = f"{PREFIX}{{name}}/{EVENTS}"
ASSIGNMENTS_TEMPLATE = f"{PREFIX}{{name}}/{ASSIGNMENTS}"
MAX_WAIT = 3600  # the bound on `wait`, the route's and the fast path's
_WAIT = re.compile(rb"wait=([0-9]{1,4}(?:\.[0-9]{1,3})?)")


def spoke_route(path: str) -> tuple[str, str] | None:
    """(name, "events" or "assignments") when the path is one of the two, the name valid."""
    if not path.startswith(PREFIX):
        return None
    name, _, tail = path[len(PREFIX) :].partition("/")
    if tail not in (EVENTS, ASSIGNMENTS) or not is_name(name):
        return None
    return name, tail


def poll_wait(query_string: bytes) -> float | None:
    """The long poll's wait: no query, or exactly `wait=N` (digits, at most three decimals,
    at most `MAX_WAIT`); None: the route's to read."""
    if not query_string:
        return 0.0
    match = _WAIT.fullmatch(query_string)
    if match is None:
        return None
    wait = float(match.group(1))
    return wait if wait <= MAX_WAIT else None
