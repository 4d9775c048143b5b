"""The workload API from Python: what the CLI, tests and users call instead of raw HTTP.

Every failure becomes a `KindfleetError` with a message a person can act on (which
field was wrong, which workload was not found, that the hub is not running) and an exit
code the CLI can return. Submissions always carry an idempotency key, so the client can
safely send one again after a dropped connection: the hub answers with the original.
"""

from __future__ import annotations

import functools
import re
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx2
from pydantic import BaseModel, TypeAdapter, ValidationError

from kindfleet.errors import KindfleetError, PrerequisiteError, UsageError
from kindfleet.platform.wire import (
    API_PREFIX,
    MAX_JOIN_TTL,
    NAME,
    WORKLOAD_ID,
    BatchItem,
    BatchSubmitRequest,
    BatchSubmitResponse,
    Explanation,
    FaultBoard,
    FaultReport,
    JoinToken,
    JoinTokenRequest,
    ProblemDetail,
    Spoke,
    SpokeList,
    SpokeRemoval,
    SubmitResponse,
    TelemetrySeries,
    Workload,
    WorkloadList,
    WorkloadSpec,
    WorkloadState,
    idempotency_key_problem,
)

M = TypeVar("M", bound=BaseModel)
_SERIES = TypeAdapter(list[TelemetrySeries])
RETRIES = 3


class HubRequestError(KindfleetError):
    """The hub answered with an error; `status` and `problem` say which."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        problem: ProblemDetail | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.problem = problem


class HubUnavailable(HubRequestError, PrerequisiteError):
    """The hub cannot be reached, or it says it cannot serve (503)."""


class HubAuthError(HubRequestError, UsageError):
    """401 or 403: the token is missing, wrong, or of the wrong kind."""


class InvalidRequest(HubRequestError, UsageError):
    """422: the request was refused; `errors` lists each field and what is wrong with it."""

    @property
    def errors(self) -> list[dict[str, str]]:
        return self.problem.errors if self.problem else []


class NotFoundError(HubRequestError, UsageError):
    """404: no such workload (or path)."""


class ConflictError(HubRequestError):
    """409: the idempotency key was used for another spec, or the workload already ended."""


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's own verifying TLS context, built once per process. Building one loads the CA
    bundle (70-130 ms of CPU on the 2-core machine) and httpx builds one for every client,
    even for an http:// hub: the local provider's readiness probes (a client every 100 ms)
    and `kindfleet load`'s watcher spent most of a core on it."""
    return httpx2.create_ssl_context()


class HubClient:
    """A synchronous client of one hub. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx2.BaseTransport | None = None,
        unreachable_hint: Callable[[], str | None] = lambda: None,
    ) -> None:
        """`unreachable_hint`: what to say when the hub cannot be reached, where the caller
        knows more than that it may not run (a fault held on the hub), asked then."""
        self.url = url.rstrip("/")
        self._unreachable_hint = unreachable_hint
        self._http = httpx2.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            verify=tls_context(),
        )

    def __enter__(self) -> HubClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------ workloads

    def submit(
        self, spec: WorkloadSpec | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> SubmitResponse:
        """Submit one workload; a 2xx means it is durably stored. Safe to retry."""
        model = _spec(spec)
        key = str(uuid.uuid4()) if idempotency_key is None else idempotency_key
        if (problem := idempotency_key_problem(key)) is not None:
            raise UsageError(f"idempotency key {key!r}: {problem}")
        response = self._send(
            "POST",
            f"{API_PREFIX}/workloads",
            content=model.model_dump_json(),
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
            retry=True,
        )
        return _parse(response, SubmitResponse)

    def submit_batch(
        self, items: Sequence[WorkloadSpec | Mapping[str, Any] | BatchItem]
    ) -> list[SubmitResponse]:
        """Many workloads in one transaction; items without a key get a fresh one."""
        batch = BatchSubmitRequest(
            items=[
                it
                if isinstance(it, BatchItem)
                else BatchItem(idempotency_key=str(uuid.uuid4()), spec=_spec(it))
                for it in items
            ]
        )
        response = self._send(
            "POST",
            f"{API_PREFIX}/workloads:batch",
            content=batch.model_dump_json(),
            headers={"Content-Type": "application/json"},
            retry=True,
        )
        return _parse(response, BatchSubmitResponse).results

    def list_workloads(
        self,
        *,
        state: WorkloadState | str | None = None,
        spoke: str | None = None,
        labels: Mapping[str, str] | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> WorkloadList:
        """One page of workloads, newest first; pass `next_cursor` on for the next page."""
        params: list[tuple[str, str]] = [("limit", str(limit))]
        if state is not None:
            params.append(("state", _state(state).value))
        if spoke is not None:
            params.append(("spoke", _spoke_name(spoke)))
        params += [("label", f"{k}={v}") for k, v in (labels or {}).items()]
        if cursor is not None:
            params.append(("cursor", cursor))
        return _parse(self._get(f"{API_PREFIX}/workloads", params), WorkloadList)

    def iter_workloads(self, **filters: Any) -> Iterator[Workload]:
        """Every workload matching the filters, following the cursor page by page."""
        cursor = None
        while True:
            page = self.list_workloads(cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get(self, workload_id: str) -> Workload:
        return _parse(self._get(f"{API_PREFIX}/workloads/{_workload(workload_id)}"), Workload)

    def cancel(self, workload_id: str) -> Workload:
        path = f"{API_PREFIX}/workloads/{_workload(workload_id)}/cancel"
        return _parse(self._send("POST", path), Workload)

    def explain(self, workload_id: str) -> Explanation:
        path = f"{API_PREFIX}/workloads/{_workload(workload_id)}/explain"
        return _parse(self._get(path), Explanation)

    def spokes(self) -> list[Spoke]:
        return _parse(self._get(f"{API_PREFIX}/spokes"), SpokeList).items

    # ------------------------------------------------------------ faults (the dashboard's)

    def report_faults(self, report: FaultReport) -> FaultBoard:
        """Tell the hub every fault record of the fleet (it shows them on its dashboard)."""
        body = report.model_dump_json()
        headers = {"Content-Type": "application/json"}
        response = self._send("PUT", f"{API_PREFIX}/faults", content=body, headers=headers)
        return _parse(response, FaultBoard)

    def faults(self) -> FaultBoard:
        """The faults the hub was last told of, and when."""
        return _parse(self._get(f"{API_PREFIX}/faults"), FaultBoard)

    # ------------------------------------------------------------ spokes (operators)

    def spoke_list(self) -> SpokeList:
        """Every spoke, and the disruption guard (on or off, and why)."""
        return _parse(self._get(f"{API_PREFIX}/spokes"), SpokeList)

    def spoke(self, name: str) -> Spoke:
        return _parse(self._get(f"{API_PREFIX}/spokes/{_spoke_name(name)}"), Spoke)

    def join_token(self, spoke: str, *, ttl_seconds: float | None = None) -> JoinToken:
        """Mint a join token for `spoke`: single use, expiring (the hub's default 1 h)."""
        if ttl_seconds is not None and not 0 < ttl_seconds <= MAX_JOIN_TTL:  # NaN too
            raise UsageError(
                f"a join token's ttl must be more than 0 and at most {MAX_JOIN_TTL} s (a week), "
                f"not {ttl_seconds}",
                hint="mint another when it has expired",
            )
        body = JoinTokenRequest(ttl_seconds=ttl_seconds)
        response = self._send(
            "POST",
            f"{API_PREFIX}/spokes/{_spoke_name(spoke)}/join-tokens",
            content=body.model_dump_json(exclude_none=True),
            headers={"Content-Type": "application/json"},
        )
        return _parse(response, JoinToken)

    def approve(self, spoke: str) -> Spoke:
        """Let a spoke that joined with the fleet token receive work."""
        return self._spoke_action(spoke, "approve")

    def drain(self, spoke: str) -> Spoke:
        """No new work for `spoke`; what it runs finishes."""
        return self._spoke_action(spoke, "drain")

    def undrain(self, spoke: str) -> Spoke:
        return self._spoke_action(spoke, "undrain")

    def remove(self, spoke: str, *, force: bool = False) -> SpokeRemoval:
        """Revoke the spoke's credential and place its unstarted work elsewhere."""
        path = f"{API_PREFIX}/spokes/{_spoke_name(spoke)}"
        params = [("force", "true")] if force else []
        return _parse(self._send("DELETE", path, params=params), SpokeRemoval)

    def _spoke_action(self, spoke: str, action: str) -> Spoke:
        path = f"{API_PREFIX}/spokes/{_spoke_name(spoke)}/{action}"
        return _parse(self._send("POST", path), Spoke)

    def telemetry(
        self,
        *,
        workload: str | None = None,
        spoke: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[TelemetrySeries]:
        """Telemetry by series; of `workload`, a workload the hub knows (NotFoundError
        when it does not: an empty answer would say it sent nothing yet)."""
        params = [("limit", str(limit))]
        if workload is not None:
            params.append(("workload", _workload(workload)))
        if spoke is not None:
            params.append(("spoke", _spoke_name(spoke)))
        if since is not None:
            params.append(("since", since.isoformat()))
        response = self._get(f"{API_PREFIX}/telemetry", params)
        try:
            series = _SERIES.validate_json(response.content)
        except ValidationError as exc:
            raise _unexpected(response) from exc
        if workload is not None and not series:
            self.get(workload)  # none sent yet, or no such workload: NotFoundError says which
        return series

    def metrics(self) -> str:
        return self._get("/metrics").text

    # ------------------------------------------------------------ probes

    def health(self) -> bool:
        """True when the hub process answers (liveness)."""
        return self._probe("/healthz")

    def ready(self) -> bool:
        """True when the hub answers and its store is reachable (readiness)."""
        return self._probe("/readyz")

    def _probe(self, path: str) -> bool:
        try:
            return self._http.get(path).status_code == 200
        except httpx2.HTTPError:
            return False

    # ------------------------------------------------------------ transport

    def _get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> httpx2.Response:
        return self._send("GET", path, params=list(params), retry=True)

    def _send(
        self,
        method: str,
        path: str,
        *,
        retry: bool = False,
        **kwargs: Any,
    ) -> httpx2.Response:
        """Send; retry connection failures of idempotent requests; map errors to ours."""
        for attempt in range(RETRIES):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx2.ConnectError as exc:
                if (tls := _tls_failure(exc)) is not None:  # not transient: no retry
                    raise HubUnavailable(
                        f"cannot reach the hub at {self.url}: its TLS certificate is not "
                        f"trusted here ({tls})",
                        status=0,
                        hint="point SSL_CERT_FILE (or SSL_CERT_DIR) at the CA that signed the "
                        "hub's certificate",
                    ) from exc
                if attempt + 1 < RETRIES:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise self._unreachable("connection refused or host unreachable") from exc
            except httpx2.TimeoutException as exc:
                if retry and attempt + 1 < RETRIES:
                    continue
                raise self._unreachable("the request timed out") from exc
            except httpx2.TransportError as exc:
                if retry and attempt + 1 < RETRIES:
                    continue
                raise self._unreachable(f"the connection failed ({type(exc).__name__})") from exc
            if response.status_code >= 400:
                raise _error(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _unreachable(self, why: str) -> HubUnavailable:
        return HubUnavailable(
            f"cannot reach the hub at {self.url}: {why}",
            status=0,
            hint=self._unreachable_hint()
            or "is the hub running? check the URL, or start the fleet with `kindfleet up`",
        )


def _tls_failure(exc: BaseException) -> str | None:
    """What TLS said, when a connection failed in its handshake (the cause httpx chains)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or str(seen)
        if isinstance(seen, ssl.SSLError):
            return seen.reason or str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def _spec(spec: WorkloadSpec | Mapping[str, Any]) -> WorkloadSpec:
    if isinstance(spec, WorkloadSpec):
        return spec
    try:
        return WorkloadSpec.model_validate(spec)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors()
        )
        raise UsageError(f"invalid workload spec: {problems}", hint="fix the fields named") from exc


def _state(value: WorkloadState | str) -> WorkloadState:
    try:
        return WorkloadState(value)
    except ValueError:
        names = ", ".join(s.value for s in WorkloadState)
        raise UsageError(f"{value!r} is not a workload state", hint=f"use one of {names}") from None


_ID = re.compile(WORKLOAD_ID[1:-1])
_NAME = re.compile(NAME[1:-1])


def _workload(value: str) -> str:
    """A workload id as the hub gives them, checked here: the hub's answer to another
    would name its own path parameter, not what the user typed."""
    if _ID.fullmatch(value) is None:
        raise UsageError(
            f"{value[:80]!r} is not a workload id",
            hint="ids look like wl-0123456789abcdef0123 (`kindfleet workloads` lists them)",
        )
    return value


def _spoke_name(value: str) -> str:
    """A spoke's name as the hub names spokes (a DNS label), checked before it goes into a
    path or a query: a newline in it failed in the HTTP library ("a bug"), a slash made
    another path of it, and other text came back as the hub's regex."""
    if len(value) > 63 or _NAME.fullmatch(value) is None:
        raise UsageError(
            f"{value!r} is not a spoke name: lowercase letters, digits and '-', at most 63",
            hint="e.g. gpu-spoke1; `kindfleet spokes` lists them",
        )
    return value


def _parse(response: httpx2.Response, model: type[M]) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise _unexpected(response) from exc


def _unexpected(response: httpx2.Response) -> HubRequestError:
    return HubRequestError(
        f"the hub at {response.request.url} answered {response.status_code} with a body "
        "this client does not understand",
        status=response.status_code,
        hint="are the client and the hub the same kindfleet version?",
    )


def _error(response: httpx2.Response) -> HubRequestError:
    return error_of(response.status_code, response.content, response.reason_phrase)


def error_of(status: int, body: bytes, reason: str = "") -> HubRequestError:
    """The error an answer of `status` (>= 400) with `body` stands for: the one every
    client of the workload API raises (this one, and `kindfleet load`'s submitter)."""
    try:
        problem: ProblemDetail | None = ProblemDetail.model_validate_json(body)
    except ValidationError:
        problem = None
    detail = (problem.detail if problem else None) or reason or "error"
    if status in (401, 403):
        return HubAuthError(
            f"the hub refused the token ({status}): {detail}",
            status=status,
            problem=problem,
            hint="check the client token (the file the hub reads with --client-token-file)",
        )
    if status == 404:
        return NotFoundError(detail, status=status, problem=problem)
    if status == 409:
        return ConflictError(detail, status=status, problem=problem)
    if status == 422:
        fields = "; ".join(
            f"{e['path']}: {e['message']}" for e in (problem.errors if problem else [])
        )
        return InvalidRequest(
            f"the hub refused the request: {fields or detail}",
            status=status,
            problem=problem,
            hint="fix the fields named above",
        )
    if status == 503:
        return HubUnavailable(
            f"the hub cannot serve right now: {detail}",
            status=status,
            problem=problem,
            hint="its store may be down; see the hub's log",
        )
    return HubRequestError(f"the hub answered {status}: {detail}", status=status, problem=problem)
