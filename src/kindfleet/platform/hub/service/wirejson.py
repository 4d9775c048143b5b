"""Workloads as JSON bytes straight from their columns: the read path's encoder.

Measured before this existed (issue 17): a page of 100 workloads cost 12-16 ms of CPU, of
which reading the rows was 1 ms; the rest was turning each row into a record, the record
into a pydantic `Workload` (validating it again), and that into JSON. Here a row becomes
its bytes directly, and the bytes are kept:

- a spec is immutable and many workloads share one, so its JSON is rendered once per spec
  hash by pydantic itself (`WorkloadSpec.model_dump_json`, so floats, escapes and field
  order are pydantic's own) and kept in a bounded cache;
- a whole workload's bytes are kept by seq beside the exact columns they were made from;
  a row whose columns are unchanged is answered with the same bytes, any change (however
  small, whatever the clock says) renders it again.

What it writes is byte for byte `reads.page(...).model_dump_json()` (the reference, kept
and compared with this in the tests): field order of the wire models, `null` for None,
times as pydantic writes an aware UTC datetime (`...T..:..:..[.ffffff]Z`), strings
escaped as serde_json escapes them (`"`, `\\`, and control characters, nothing else),
which is what the standard library's C `encode_basestring` does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kindfleet.platform.hub.rules.times import utc
from kindfleet.platform.wire import WorkloadSpec

_str: Callable[[str], str] = json.encoder.encode_basestring

ROWS_KEPT = 20_000  # ~15 MB of answers at most
SPECS_KEPT = 4_096


def _text(value: str | None) -> str:
    return "null" if value is None else _str(value)


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "null"
    return '"' + utc(seconds).isoformat()[:-6] + 'Z"'  # "+00:00" -> "Z", as pydantic


def _int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _attempts(text: str) -> str:
    parts = []
    for gen, spoke, state, _assigned, started, finished, code, reason in json.loads(text):
        parts.append(
            f'{{"generation":{int(gen)},"spoke":{_str(spoke)},"state":{_str(state)},'
            f'"started_at":{_time(started)},"finished_at":{_time(finished)},'
            f'"exit_code":{_int(code)},"reason":{_text(reason)}}}'
        )
    return "[" + ",".join(parts) + "]"


def render(row: Sequence[Any], spec: str) -> bytes:
    """One workload (the `SHOWN` columns of the store, in that order) as JSON bytes."""
    (_seq, wid, _hash, state, generation, spoke, retries, cancel, reason, message,
     attempts, submitted, updated) = row  # fmt: skip
    return (
        f'{{"id":{_str(wid)},"spec":{spec},"state":{_str(state)},'
        f'"generation":{int(generation)},"spoke":{_text(spoke)},'
        f'"attempts":{_attempts(attempts)},"retries_used":{int(retries)},'
        f'"cancel_requested":{"true" if cancel else "false"},"reason":{_text(reason)},'
        f'"message":{_text(message)},"submitted_at":{_time(submitted)},'
        f'"updated_at":{_time(updated)}}}'
    ).encode("utf-8", "surrogatepass")


class WorkloadJson:
    """The caches of rendered specs and workloads; safe to share between reader threads."""

    def __init__(self, rows_kept: int = ROWS_KEPT, specs_kept: int = SPECS_KEPT) -> None:
        self._rows: dict[int, tuple[tuple[Any, ...], bytes]] = {}
        self._specs: dict[str, str] = {}
        self._rows_kept = rows_kept
        self._specs_kept = specs_kept
        self._lock = threading.Lock()

    def encode(
        self, rows: Sequence[Sequence[Any]], fetch_specs: Callable[[list[int]], Mapping[str, str]]
    ) -> list[bytes]:
        """Each row's bytes; `fetch_specs(seqs)` gives spec text by hash for rows whose spec
        has not been rendered yet (a second, small query, only when needed)."""
        out: list[bytes | None] = []
        specs: dict[str, str] = {}
        missing: list[int] = []
        for row in rows:
            kept = self._rows.get(row[0])
            if kept is not None and kept[0] == tuple(row):
                out.append(kept[1])
                continue
            out.append(None)
            spec = self._specs.get(row[2])
            if spec is None:
                missing.append(row[0])
            else:
                specs[row[2]] = spec
        if missing:
            for digest, text in fetch_specs(missing).items():
                specs[digest] = WorkloadSpec.model_validate_json(text).model_dump_json()
                self._keep_spec(digest, specs[digest])
        for i, row in enumerate(rows):
            if out[i] is None:
                body = render(row, specs[row[2]])
                self._keep_row(row, body)
                out[i] = body
        return [body for body in out if body is not None]

    def _keep_spec(self, digest: str, text: str) -> None:
        with self._lock:
            if len(self._specs) >= self._specs_kept:
                del self._specs[next(iter(self._specs))]
            self._specs[digest] = text

    def _keep_row(self, row: Sequence[Any], body: bytes) -> None:
        with self._lock:
            if len(self._rows) >= self._rows_kept and row[0] not in self._rows:
                del self._rows[next(iter(self._rows))]
            self._rows[row[0]] = (tuple(row), body)


def page(items: Sequence[bytes], next_cursor: str | None) -> bytes:
    """A `WorkloadList` of rendered workloads."""
    cursor = b"null" if next_cursor is None else b'"' + next_cursor.encode() + b'"'
    return b'{"items":[' + b",".join(items) + b'],"next_cursor":' + cursor + b"}"
