"""The hub-spoke protocol: every request and response body that crosses the wire.

Hub and agent share these models and nothing else, so either side can be replaced (a
Go agent, a hub on another store) by honouring this file. Pull, not push: the spoke opens
every connection (register, heartbeat, long-poll, events); the hub never dials a spoke.

Fencing: every assignment carries a `generation`, a per-workload counter the hub bumps
each time it hands the workload out. A report whose generation is not the workload's
current one comes from a stale copy; the hub acknowledges it (so the outbox can drop it)
but does not apply it, and tells the spoke to stop that copy.

Only status and telemetry leave a spoke: events carry states, exit codes, short messages
and numbers, never logs, inputs or outputs.
"""

from __future__ import annotations

import enum
import hashlib
import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from kindfleet.platform import exclusive

API_PREFIX = "/v1"
# hub (issue 9): a spoke's own bearer credential, as a spoke may choose it.
Credential = Annotated[
    str, StringConstraints(min_length=32, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
]

# Bounds that keep one request from exhausting the hub; the hub answers 422 beyond them
# (413 beyond the body's size).
MAX_BATCH = 1000
MAX_BODY = 32 * 2**20
MAX_LABELS = 64
MAX_COMMAND_ARGS = 256
MAX_MESSAGE = 1024

NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # a DNS label: a spoke's, a workload's
Name = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=NAME)]
# ---- hub (issue 9): text that reaches a spoke's process or a database holds no NUL ----
NO_NUL = r"^[^\x00]*$"
PROGRAM = r"^[^\x00]*[^\x00\s][^\x00]*$"  # no NUL, and not only white space
# A container image reference as the engines parse it (distribution/reference): a name
# `[host[:port]/]path` with lowercase path components, then `:tag`, `@digest` or both. A
# cluster takes any string and then fails the pod (InvalidImageName); the embedded runtime
# runs no image at all: refused here, both say the same at once.
_HOST_PART = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}"
IMAGE = (
    rf"^(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*"
    rf"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@{_DIGEST})?$"
)
Image = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=IMAGE)]
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=317, pattern=NO_NUL)]
LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=NO_NUL)]
# Quantities as the hub accepts them, stated in the schema itself (so the published API and
# the hub agree exactly): more than 0, and within a signed 64-bit column.
_INT = "[1-9][0-9]{{0,{}}}"
_FRAC = r"(?:\.[0-9]{1,3})?"
_ZFRAC = r"0\.(?:[1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9])"
CPU_QUANTITY = f"^(?:{_INT.format(8)}{_FRAC}|{_ZFRAC}|{_INT.format(11)}m)$"
MEMORY_QUANTITY = (
    "^(?:"
    + _INT.format(17)
    + "".join(
        f"|(?:{_INT.format(digits)}{_FRAC}|{_ZFRAC})(?:{units})"
        for digits, units in ((14, "k|Ki"), (11, "M|Mi"), (8, "G|Gi"), (5, "T|Ti"), (2, "P|Pi"))
    )
    + f"|(?:[1-3]{_FRAC}|{_ZFRAC})(?:E|Ei))$"
)
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# What a pattern asks for, in words, with an example: for the messages people read (the
# hub's 422s, the CLI's), which showed the regular expression itself.
PATTERN_WORDS = {
    CPU_QUANTITY: ("is not a CPU quantity", "cores or millicores, e.g. 500m, 2 or 1.5"),
    MEMORY_QUANTITY: ("is not a memory quantity", "bytes, or with a unit: e.g. 512Mi, 2Gi, 1G"),
    NAME: (
        "is not a name",
        "lowercase letters, digits and '-', a letter or digit at each end, e.g. train-1",
    ),
    ENV_NAME: ("is not a variable name", "letters, digits and _, no digit first, e.g. BATCH"),
    NO_NUL: ("holds a NUL character", "remove it"),
    IMAGE: (
        "is not an image reference",
        "[registry[:port]/]lowercase/path[:tag][@sha256:digest], e.g. python:3.11-slim; "
        "leave image out for the runtime's default",
    ),
}
IDEMPOTENCY_KEY = r"^[!-~]([ -~]*[!-~])?$"  # printable ASCII, no space at either end
MAX_IDEMPOTENCY_KEY = 200
MAX_JOIN_TTL = 7 * 86400  # a join token's life, at most: a week
KEY_REQUIRED = (
    "an Idempotency-Key header is required: a unique string per workload (e.g. a UUID), so "
    "that a retried submission never creates a second workload"
)
KEY_TOO_LONG = f"must be at most {MAX_IDEMPOTENCY_KEY} characters"
KEY_NOT_PRINTABLE = "must be printable ASCII, with no space at either end"
WORKLOAD_ID = r"^wl-[0-9a-f]{20}$"  # what the hub gives; clients check it before a call


def idempotency_key_problem(key: str) -> str | None:
    """Why the hub refuses this Idempotency-Key, in its words; None: it takes it. Clients
    ask before they send: a newline in a header or a non-ASCII one failed in the HTTP
    library instead, taken for a hub out of reach or a bug."""
    if not key.strip():
        return KEY_REQUIRED
    if len(key) > MAX_IDEMPOTENCY_KEY:
        return KEY_TOO_LONG
    if re.fullmatch(IDEMPOTENCY_KEY[1:-1], key) is None:
        return KEY_NOT_PRINTABLE
    return None


# ---- end hub (issue 9) ----
Labels = Annotated[
    dict[LabelKey, LabelValue],
    Field(max_length=MAX_LABELS, json_schema_extra={"additionalProperties": False}),
]
Message = Annotated[str, StringConstraints(max_length=MAX_MESSAGE)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- workloads


class WorkloadState(enum.StrEnum):
    """Pending -> Assigned -> Running -> Succeeded | Failed | Cancelled; Expired from Pending.

    Assigned: leased to one spoke, not yet started there. A lost spoke's Assigned work goes
    back to Pending at once; its Running work is retried (back to Pending, a new attempt)
    while the retry policy allows, else Failed with reason SpokeLost.
    """

    PENDING = "Pending"
    ASSIGNED = "Assigned"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {WorkloadState.SUCCEEDED, WorkloadState.FAILED, WorkloadState.CANCELLED, WorkloadState.EXPIRED}
)


class Resources(Wire):
    """What one run needs: cpu and memory as Kubernetes quantities, whole GPUs."""

    cpu: Annotated[str, StringConstraints(max_length=32, pattern=CPU_QUANTITY)] = "100m"
    memory: Annotated[str, StringConstraints(max_length=32, pattern=MEMORY_QUANTITY)] = "128Mi"
    gpu: Annotated[int, Field(ge=0, le=64)] = 0

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str) -> str:
        from kindfleet.units import parse_cpu

        if parse_cpu(value) <= 0:
            raise ValueError("cpu must be more than 0, e.g. 100m")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        from kindfleet.units import parse_memory

        if parse_memory(value) <= 0:
            raise ValueError("memory must be more than 0, e.g. 128Mi")
        return value


class SelectorOp(enum.StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class SelectorExpression(Wire):
    # hub (issue 9): what the hub checks, in the schema too (In/NotIn need values,
    # Exists/DoesNotExist take none).
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"operator": {"enum": ["In", "NotIn"]}}},
                    "then": {"properties": {"values": {"minItems": 1}}, "required": ["values"]},
                },
                {
                    "if": {"properties": {"operator": {"enum": ["Exists", "DoesNotExist"]}}},
                    "then": {"properties": {"values": {"maxItems": 0}}},
                },
            ]
        }
    )

    key: LabelKey
    operator: SelectorOp
    values: Annotated[list[LabelValue], Field(max_length=64)] = Field(default_factory=list)


class Selector(Wire):
    """Which spokes may run a workload, by cluster labels (as a Kubernetes label selector)."""

    match_labels: Labels = Field(default_factory=dict)
    match_expressions: Annotated[list[SelectorExpression], Field(max_length=32)] = Field(
        default_factory=list
    )


class RetryPolicy(Wire):
    """How many more attempts a workload gets, and what counts against them.

    An attempt that fails (non-zero exit) or whose spoke is lost while it runs is retried
    while `max_retries` allows; work that never started on a lost spoke is simply placed
    again and costs no retry.
    """

    max_retries: Annotated[int, Field(ge=0, le=100)] = 0
    retry_on_failure: StrictBool = True
    retry_on_spoke_lost: StrictBool = True


class Mode(enum.StrEnum):
    """What a run does while its spoke cannot reach the hub (docs/platform.md).

    autonomous: it keeps running; re-routed after the loss window, the stale copy fenced
    when its spoke comes back (two copies may run side by side meanwhile).
    exclusive: its spoke stops it before its lease runs out unanswered, and the hub
    places it again only after the full lease: never two runs at once."""

    AUTONOMOUS = "autonomous"
    EXCLUSIVE = "exclusive"


class WorkloadSpec(Wire):
    """A unit of AI work as submitted: what to run, what it needs, where it may go."""

    # What the hub checks, in the schema too: a lease only with `mode: exclusive`.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {
                        "not": {
                            "properties": {"mode": {"const": "exclusive"}},
                            "required": ["mode"],
                        }
                    },
                    "then": {"properties": {"lease_seconds": {"type": "null"}}},
                }
            ]
        }
    )

    name: Name
    command: Annotated[
        list[Annotated[str, StringConstraints(max_length=4096, pattern=NO_NUL)]],
        Field(
            min_length=1,
            max_length=MAX_COMMAND_ARGS,
            # What the hub refuses at submission (`submit.spec_problems`), said in the
            # schema too: the program, command[0], is not empty or blank.
            json_schema_extra={
                "prefixItems": [{"type": "string", "maxLength": 4096, "pattern": PROGRAM}]
            },
        ),
    ]
    image: Image | None = None
    env: Annotated[
        dict[
            Annotated[
                str,
                StringConstraints(min_length=1, max_length=256, pattern=ENV_NAME),
            ],
            Annotated[str, StringConstraints(max_length=4096, pattern=NO_NUL)],
        ],
        Field(max_length=128, json_schema_extra={"additionalProperties": False}),
    ] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    selector: Selector = Field(default_factory=Selector)
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    # Give up if not placed within this many seconds of submission (state Expired).
    pending_deadline_seconds: Annotated[float, Field(gt=0, le=30 * 86400)] | None = None
    # Stop a run that takes longer than this (Failed, reason DeadlineExceeded).
    timeout_seconds: Annotated[float, Field(gt=0, le=30 * 86400)] | None = None
    labels: Labels = Field(default_factory=dict)
    mode: Mode = Mode.AUTONOMOUS
    # Exclusive only: how long a run may go on with its spoke unanswered (None: default).
    lease_seconds: (
        Annotated[float, Field(ge=exclusive.MIN_LEASE, le=exclusive.MAX_LEASE)] | None
    ) = None

    @model_validator(mode="after")
    def _lease_is_for_exclusive_work(self) -> WorkloadSpec:
        if self.lease_seconds is not None and self.mode is not Mode.EXCLUSIVE:
            raise ValueError("lease_seconds applies to exclusive work only (mode: exclusive)")
        return self

    @property
    def lease(self) -> float | None:
        """The lease of exclusive work (None: autonomous work has none)."""
        if self.mode is not Mode.EXCLUSIVE:
            return None
        return exclusive.DEFAULT_LEASE if self.lease_seconds is None else self.lease_seconds


class Attempt(Wire):
    generation: int
    spoke: str
    state: WorkloadState
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: str | None = None


class Workload(Wire):
    """A workload as the hub knows it."""

    id: str
    spec: WorkloadSpec
    state: WorkloadState
    generation: int  # 0 until first assigned
    spoke: str | None = None  # the spoke of the current attempt
    attempts: list[Attempt] = Field(default_factory=list)
    retries_used: int = 0
    cancel_requested: bool = False
    reason: str | None = None  # why it is in its state (Unschedulable, SpokeLost, ...)
    message: str | None = None
    submitted_at: datetime
    updated_at: datetime


class SubmitResponse(Wire):
    workload: Workload
    created: bool  # False when the idempotency key matched an earlier submission


class BatchItem(Wire):
    idempotency_key: Annotated[
        str, StringConstraints(min_length=1, max_length=200, pattern=IDEMPOTENCY_KEY)
    ]
    spec: WorkloadSpec


class BatchSubmitRequest(Wire):
    """Many submissions in one durable transaction; each with its own idempotency key."""

    items: Annotated[list[BatchItem], Field(min_length=1, max_length=MAX_BATCH)]


class BatchSubmitResponse(Wire):
    results: list[SubmitResponse]


class WorkloadList(Wire):
    items: list[Workload]
    next_cursor: str | None = None


class SpokeVerdict(Wire):
    """One spoke as placement saw it for one workload: fits, or what it lacks."""

    spoke: str
    fits: bool
    reasons: list[str] = Field(default_factory=list)


class Explanation(Wire):
    """The answer to "why is my workload still pending?"."""

    workload: str
    state: WorkloadState
    queue_position: int | None = None  # 1 = next to be placed; None when not queued
    queue_length: int = 0
    considered: list[SpokeVerdict] = Field(default_factory=list)
    summary: str
    mode: Mode = Mode.AUTONOMOUS
    lease_seconds: float | None = None  # exclusive work: its lease (the default filled in)


# ---------------------------------------------------------------- spokes


class SpokeHealth(enum.StrEnum):
    """Ready while the lease is renewed; NotReady after missed heartbeats (nothing moves);
    Lost after `lost_after` seconds without one (its work is re-routed)."""

    READY = "Ready"
    NOT_READY = "NotReady"
    LOST = "Lost"


class Capacity(Wire):
    """Allocatable resources of a spoke: millicores, bytes, whole GPUs."""

    cpu_millis: Annotated[int, Field(ge=0)]
    memory_bytes: Annotated[int, Field(ge=0)]
    gpus: Annotated[int, Field(ge=0, le=4096)] = 0


class RegisterRequest(Wire):
    """Sent with `Authorization: Bearer <join token | own credential | fleet token>`."""

    name: Name
    labels: Labels = Field(default_factory=dict)
    capacity: Capacity
    executor: Literal["process", "kubernetes"]
    agent_version: Annotated[str, StringConstraints(max_length=64, pattern=NO_NUL)] = ""
    # hub (issue 9): the credential the spoke chose for itself (kept before it registers, so
    # a lost answer costs nothing); absent: the hub chooses one.
    credential: Credential | None = None


# hub (issue 14): the id of the hub's store, which a spoke remembers from its first
# registration and sends with every later one in this header; a hub on another store (an
# empty one, after its store was lost) refuses it with 409 before any token is looked at.
STORE_HEADER = "Kindfleet-Store"


class RegisterResponse(Wire):
    spoke: str
    store_id: str = ""  # the hub's store: a spoke that remembers another one is refused
    credential: str  # the spoke's own bearer token from now on; shown once
    heartbeat_seconds: float
    lease_seconds: float  # NotReady after this long without a heartbeat
    lost_after_seconds: float  # Lost (work re-routed) after this long
    approved: bool = True  # hub (issue 9): False: joined with the fleet token, no work yet


class HeldAssignment(Wire):
    workload: str
    generation: int


class HeartbeatRequest(Wire):
    """Lease renewal, with what the spoke holds so the hub can fence stale copies."""

    capacity: Capacity
    held: Annotated[list[HeldAssignment], Field(max_length=100_000)] = Field(default_factory=list)


class HeartbeatResponse(Wire):
    health: SpokeHealth
    stop: list[HeldAssignment] = Field(default_factory=list)  # stale or cancelled: stop these
    heartbeat_seconds: float


class Assignment(Wire):
    """Work leased to a spoke. `cancel` set: stop this run and report Cancelled."""

    workload: str
    generation: int
    spec: WorkloadSpec
    cancel: bool = False


class AssignmentBatch(Wire):
    items: list[Assignment]


class EventType(enum.StrEnum):
    ACCEPTED = "accepted"  # the spoke took the assignment (ack of delivery)
    STARTED = "started"  # it runs
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # the spoke cannot run it (e.g. not enough GPUs after all)


EXIT_CODES = range(-(2**31), 2**31)  # what a status event may carry as an exit code


class StatusEvent(Wire):
    seq: Annotated[int, Field(ge=1)]  # per-spoke outbox sequence number
    workload: str
    generation: int
    type: EventType
    at: datetime
    # A process's code (negative: the signal that ended it) or a container's (an int32).
    exit_code: Annotated[int, Field(ge=EXIT_CODES.start, le=EXIT_CODES.stop - 1)] | None = None
    reason: Annotated[str, StringConstraints(max_length=64)] | None = None
    message: Message | None = None


class TelemetryPoint(Wire):
    """Numbers only: resource use of a run or of the spoke, or metrics a workload emitted."""

    seq: Annotated[int, Field(ge=1)]
    at: datetime
    workload: str | None = None  # None: the spoke itself
    generation: int | None = None
    metrics: Annotated[
        dict[Annotated[str, StringConstraints(max_length=128)], float], Field(max_length=64)
    ]


class EventBatch(Wire):
    """One flush of the spoke's outbox; sequence numbers make redelivery harmless."""

    events: Annotated[list[StatusEvent], Field(max_length=MAX_BATCH)] = Field(default_factory=list)
    telemetry: Annotated[list[TelemetryPoint], Field(max_length=MAX_BATCH)] = Field(
        default_factory=list
    )


class EventAck(Wire):
    """Everything up to `acked_through` is stored (or known stale) and may leave the outbox."""

    acked_through: int
    refused: list[int] = Field(default_factory=list)  # seqs of stale reports, not applied
    duplicates: int = 0  # seqs seen before (redelivery), ignored


class Spoke(Wire):
    name: str
    labels: dict[str, str]
    capacity: Capacity
    allocated: Capacity
    health: SpokeHealth
    executor: str
    registered_at: datetime
    last_heartbeat: datetime | None = None
    running: int = 0
    approved: bool = True  # hub (issue 9): False until `kindfleet spokes approve`
    draining: bool = False  # hub (issue 9): no new work; running work finishes


class SpokeList(Wire):
    items: list[Spoke]
    guard: Guard | None = None  # hub (issue 9): the disruption guard, and why it is on


class TelemetrySeries(Wire):
    workload: str | None
    spoke: str
    points: list[TelemetryPoint]


class ProblemDetail(Wire):
    """Error body (RFC 9457 style) for every 4xx/5xx the hub answers."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, str]] = Field(default_factory=list)  # {path, message} for 422


# ==== hub (issue 9): spoke identity and operations ====================================


class JoinTokenRequest(Wire):
    """`POST /v1/spokes/{name}/join-tokens`: a join token for one spoke name."""

    ttl_seconds: Annotated[float, Field(gt=0, le=MAX_JOIN_TTL)] | None = None  # default: the hub's


class JoinToken(Wire):
    """Shown once: single use, for `spoke` only, until `expires_at`."""

    spoke: str
    token: str
    expires_at: datetime


class Guard(Wire):
    """The disruption guard: on while most working spokes are silent at once."""

    active: bool
    reason: str | None = None
    silent: list[str] = Field(default_factory=list)
    population: int = 0  # spokes that count: approved, heartbeated since joining, not Lost
    held: list[str] = Field(default_factory=list)  # Lost verdicts it holds back now
    until: datetime | None = None  # it holds nothing back after this, whatever happens


class SpokeRemoval(Wire):
    """What `DELETE /v1/spokes/{name}` did with the spoke's work."""

    spoke: str
    requeued: list[str] = Field(default_factory=list)  # not started: placed elsewhere
    retried: list[str] = Field(default_factory=list)  # running: retried per its policy
    failed: list[str] = Field(default_factory=list)  # running, no retry left
    cancelled: list[str] = Field(default_factory=list)  # cancellation was already asked


# ==== end hub (issue 9) ======================================================================


# ==== dashboard (issue 16): faults reported by fleet tooling, recent activity ===========
# The hub never reads the fleet's state: `kindfleet fault` tells it what it broke (the whole
# set of the fleet's records each time, so a report lost or a hub restarted heals on the next
# one), and the dashboard shows it beside the spokes it hurts.

MAX_FAULTS = 500
FaultText = Annotated[str, StringConstraints(max_length=256, pattern=NO_NUL)]


def _in_utc_range(moment: datetime) -> datetime:
    try:
        moment.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 at +14:00 is year 0 in UTC
        why = "is out of range: give a time between the years 1 and 9999 in UTC"
        raise ValueError(why) from None
    return moment


# A time the hub shows: one that UTC can hold (the dashboard answered 500 on year 1 +14:00).
ShownTime = Annotated[datetime, AfterValidator(_in_utc_range)]


class FaultNote(Wire):
    """One fault of the fleet as its records say: what, where, since when, whether live."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
    action: FaultText
    cluster: FaultText
    role: FaultText = ""
    state: Literal["injecting", "active", "cleared"]
    injected_at: ShownTime
    until: ShownTime | None = None  # when its `--for` holder clears it
    cleared_at: ShownTime | None = None
    detail: FaultText = ""  # e.g. "200ms, 5% loss"
    note: Annotated[str, StringConstraints(max_length=1024, pattern=NO_NUL)] = ""


class FaultReport(Wire):
    """`PUT /v1/faults`: every fault record of the fleet (replaces what the hub was told)."""

    fleet: Annotated[str, StringConstraints(max_length=63, pattern=NO_NUL)] = ""
    faults: Annotated[list[FaultNote], Field(max_length=MAX_FAULTS)] = Field(default_factory=list)


class FaultBoard(Wire):
    """`GET /v1/faults`: the last report, and when it came (None: never told since start)."""

    report: FaultReport = Field(default_factory=FaultReport)
    received_at: datetime | None = None


class ActivityPoint(Wire):
    """One interval of the hub's recent activity: counts in the interval, states at its end."""

    at: datetime  # end of the interval
    submitted: int  # workloads created in the interval
    placed: int  # assignments made in the interval
    pending: int
    active: int  # Assigned and Running
    finished: int  # Succeeded, Failed, Cancelled and Expired (total, at `at`)


class Activity(Wire):
    """`GET /v1/activity`: the last minutes of submissions, placements and states, from
    counters sampled in memory since the hub started (a restarted hub starts afresh)."""

    interval_seconds: float
    since: datetime  # the hub's start, or the oldest interval kept
    points: list[ActivityPoint] = Field(default_factory=list)


# ==== end dashboard (issue 16) ==============================================================


# ================================================================ Kubernetes names
# Shared with tools outside the platform (the fleet's `kindfleet logs` on KIND, manifests,
# drills): where a spoke's Jobs live and how one run's Job is found again. The agent's
# kubernetes executor uses these and nothing else for them, so the two sides cannot drift.
# Pure functions of their inputs; owned by the agent side (its Job naming), kept here only
# so that fleet tooling may import them without importing the agent.

WORKLOADS_NAMESPACE = "platform-workloads"  # the default namespace of a spoke's Jobs
WORKLOAD_LABEL = "kindfleet.dev/workload"  # on Jobs and pods: label_value(workload id)
GENERATION_LABEL = "kindfleet.dev/generation"  # on Jobs and pods: the generation
JOB_CONTAINER = "workload"  # the container that runs the workload in a run's pod

_MAX_K8S_NAME = 63
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def job_name(workload: str, generation: int) -> str:
    """The Job that runs generation `generation` of `workload`: `<workload>-g<generation>`
    as a DNS-1123 label of at most 63 characters.

    An id that is already a clean label is kept as it is (the hub's `wl-<hex>` ids are);
    anything else is lower-cased, cleaned and given a short hash of the original so that two
    ids that clean up the same still get different names. A pure function of its inputs: a
    restarted agent, or a retried create, arrives at the same name.
    """
    suffix = f"-g{generation}"
    base = re.sub(r"[^a-z0-9-]+", "-", workload.lower()).strip("-")
    base = re.sub(r"-{2,}", "-", base)
    room = _MAX_K8S_NAME - len(suffix)
    if base != workload or len(base) > room:
        digest = hashlib.sha256(workload.encode()).hexdigest()[:8]
        base = f"{base[: room - len(digest) - 1].rstrip('-')}-{digest}".lstrip("-")
    return f"{base}{suffix}"


def label_value(text: str) -> str:
    """`text` when it is a valid label value, else a cleaned, hashed stand-in for it (what
    `WORKLOAD_LABEL` holds for a workload id that is not a valid label value)."""
    if len(text) <= _MAX_K8S_NAME and _LABEL_VALUE.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[: _MAX_K8S_NAME - 9]
    cleaned = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)
    return f"{cleaned}-{digest}" if cleaned else digest


# ================================================================ end of Kubernetes names
