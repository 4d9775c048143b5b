"""The two hottest reads (`GET /v1/workloads`, `GET /v1/workloads/{id}`) without the
framework: what `fastpath` answers itself, and what it leaves to FastAPI.

The rule is to answer only what is certainly well formed: known parameters, each at most
once (labels excepted), every value in its canonical form (`limit=100`, not `limit=0100`
or `limit=1e2`). Anything else, errors included, goes to the FastAPI route, so that the
two can never disagree on what a doubtful request means: the route is the reference.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from kindfleet.platform.hub.service.reads import ListQuery, is_name, parse_list_query
from kindfleet.platform.hub.service.refusals import HubError
from kindfleet.platform.wire import API_PREFIX, WorkloadState

LIST_PATH = f"{API_PREFIX}/workloads"
GET_TEMPLATE = f"{API_PREFIX}/workloads/{{workload_id}}"
_GET = re.compile(re.escape(LIST_PATH) + r"/(wl-[0-9a-f]{20})")
_LIMIT = re.compile(r"[1-9][0-9]{0,3}")
_CURSOR = re.compile(r"[0-9]{1,18}")
_LABEL = re.compile(r"[^=\x00-\x1f]{1,317}=[^\x00-\x1f]{0,63}")  # as the route's LabelFilter
_STATES = {s.value: s for s in WorkloadState}
_SINGLE = frozenset({"state", "spoke", "limit", "cursor"})
MAX_LABELS = 16


def workload_id(path: str) -> str | None:
    """The id of `GET /v1/workloads/{id}` when the path is one, and the id well formed."""
    match = _GET.fullmatch(path)
    return match.group(1) if match else None


def list_query(query_string: bytes) -> ListQuery | None:
    """The list's query when every part of it is certainly valid; None: ask FastAPI."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    seen: dict[str, str] = {}
    labels: list[str] = []
    for key, value in pairs:
        if key == "label":
            if not _LABEL.fullmatch(value):
                return None
            labels.append(value)
        elif key in _SINGLE and key not in seen:
            seen[key] = value
        else:
            return None  # unknown, or given twice
    limit = seen.get("limit", "100")
    cursor = seen.get("cursor")
    state = seen.get("state")
    spoke = seen.get("spoke")
    if (
        not _LIMIT.fullmatch(limit)
        or int(limit) > 1000
        or (cursor is not None and not _CURSOR.fullmatch(cursor))
        or (state is not None and state not in _STATES)
        or (spoke is not None and not is_name(spoke))
        or len(labels) > MAX_LABELS
    ):
        return None
    try:
        return parse_list_query(
            limit=int(limit),
            cursor=cursor,
            state=_STATES[state] if state is not None else None,
            spoke=spoke,
            labels=labels,
        )
    except HubError:
        return None
