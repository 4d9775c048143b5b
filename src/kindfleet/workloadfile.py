"""Workloads as users write them: a YAML file of one spec or a list, or the flags of
`kindfleet submit`, checked against the wire model before anything reaches the hub.

A bad workload is a `WorkloadSpecError` that lists every field wrong, with its path (the
same reporting as a fleet file's, but never mistaken for one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kindfleet.errors import Problem, SpecError, UsageError, WorkloadSpecError
from kindfleet.fleetspec import k8snames, yamlread
from kindfleet.fleetspec.errors import problems_from
from kindfleet.fleetspec.load import MAX_FILE_BYTES, read_capped
from kindfleet.platform.wire import (
    MAX_IDEMPOTENCY_KEY,
    PATTERN_WORDS,
    WorkloadSpec,
    idempotency_key_problem,
)

WORKLOAD_FILE = yamlread.FileKind(
    empty_fix="write a workload (name, command) or a list",
    repeated="keys may not repeat",
    noun="workload file",
    second_fix="remove the `---` and what follows; for several workloads write a list",
)


def validate(
    raw: Mapping[str, Any],
    *,
    source: str = "workload",
    prefix: tuple[str | int, ...] = (),
    texts: Mapping[tuple[str | int, ...], str] | None = None,
) -> WorkloadSpec:
    """`raw` as a workload; `texts` (path -> a plain scalar's text as written, from the
    file) lets a message quote what the user typed (`"1.10"`, not 1.1)."""
    try:
        return WorkloadSpec.model_validate(raw)
    except ValidationError as exc:
        problems = problems_from(exc, WorkloadSpec, prefix, texts=texts, patterns=PATTERN_WORDS)
        raise WorkloadSpecError(problems or [Problem("", str(exc))], source=source) from None


def from_path(path: str | Path) -> list[WorkloadSpec]:
    """Every workload in a YAML file holding one spec (a map) or a list of them, read as a
    fleet file is (`fleetspec.yamlread`): at most 16 MiB, YAML 1.2 (`no` is text), a
    repeated key refused. PyYAML's `safe_load` read `--spec /dev/zero` until the memory
    ran out, made `VER: 1.10` 1.1 and then told to quote it as "1.1", and let the second of
    two `resources:` win in silence."""
    path = Path(path)
    source = str(path)
    try:
        raw = read_capped(path)
    except FileNotFoundError:
        raise UsageError(f"workload file {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a workload file") from None
    except OSError as exc:
        raise UsageError(f"workload file {path} cannot be read: {exc.strerror}") from None
    if raw is None:
        too_big = f"is larger than {MAX_FILE_BYTES // 2**20} MiB: no workload file is that large"
        fix = "check that --spec names your workload file"
        raise WorkloadSpecError([Problem("", too_big, fix)], source=source)
    try:
        document = yamlread.read(raw, source=source, kind=WORKLOAD_FILE)
    except SpecError as exc:
        raise WorkloadSpecError(exc.problems, source=source) from None
    data = document.data
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(i, dict) for i in items):
        problem = Problem("", "must hold a workload (a map) or a list of them")
        raise WorkloadSpecError([problem], source=source)
    problems: list[Problem] = []
    specs: list[WorkloadSpec] = []
    for index, item in enumerate(items):
        prefix: tuple[str | int, ...] = (index,) if isinstance(data, list) else ()
        try:
            specs.append(validate(item, source=source, prefix=prefix, texts=document.texts))
        except WorkloadSpecError as exc:
            problems += exc.problems
    if problems:
        raise WorkloadSpecError(problems, source=source)
    return specs


def pairs(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    """`KEY=VALUE` arguments as a map; anything else names the flag and an example."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} {item!r} is not KEY=VALUE", hint=f"e.g. {flag} gpu=true")
        out[key] = value
    return out


def labels_from(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    """`KEY=VALUE` labels (`submit -l`, `workloads -l`), each a Kubernetes label: a
    `team!=vision` read as the key `team!` would match nothing, and say nothing."""
    labels = pairs(items, flag)
    for key, value in labels.items():
        _check_label(flag, f"{key}={value}", key, [value] if value else [])
    return labels


# kubectl's label-selector syntax, each requirement one of these (commas between them).
_SET = re.compile(
    r"^\s*(!?)\s*([^\s!=(),]+)\s*(?:(==|=|!=)\s*([^\s!=(),]*)|\s+(in|notin)\s*\(([^()]*)\))?\s*$"
)


def selector_from(items: Sequence[str] | None, flag: str = "--selector") -> dict[str, Any]:
    """`--selector` arguments, in kubectl's syntax, as a selector: `gpu=true`
    (`==` too), `pool!=cpu` (NotIn: also spokes without the label), `gpu` (Exists),
    `!gpu` (DoesNotExist), `zone in (a,b)`, `zone notin (a,b)`; several in one argument,
    comma-separated, or the flag repeated. Keys and values as Kubernetes labels have them:
    a `gpu!=true` that read as the key `gpu!` would wait forever for a spoke."""
    labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    for item in items or []:
        for part in _requirements(item):
            found = _SET.fullmatch(" ".join(part.split()))  # one space: no backtracking
            if found is None:
                raise UsageError(
                    f"{flag} {item!r}: {part.strip()!r} is not a label requirement",
                    hint=f"e.g. {flag} gpu=true, {flag} 'pool!=cpu', {flag} 'zone in (a,b)', "
                    f"{flag} gpu (has the label), {flag} '!gpu' (has not)",
                )
            negated, key, op, value, set_op, values = found.groups()
            members = _split(values) if set_op else [value] if value else []
            _check_label(flag, item, key, members)
            if negated and (op or set_op):
                raise UsageError(f"{flag} {item!r}: '!' goes only before a bare key, as in '!gpu'")
            if op in ("=", "=="):
                if labels.get(key, value) != value:
                    raise UsageError(
                        f"{flag}: {key} is asked to be both {labels[key]!r} and {value!r}"
                    )
                labels[key] = value
            elif op == "!=":
                expressions.append({"key": key, "operator": "NotIn", "values": [value]})
            elif set_op:
                if not members:
                    raise UsageError(f"{flag} {item!r}: {set_op} needs at least one value")
                operator = "In" if set_op == "in" else "NotIn"
                expressions.append({"key": key, "operator": operator, "values": members})
            else:
                operator = "DoesNotExist" if negated else "Exists"
                expressions.append({"key": key, "operator": operator})
    return {"match_labels": labels, "match_expressions": expressions}


def _requirements(item: str) -> list[str]:
    """An argument cut at its commas, but not those inside a set's parentheses."""
    parts, depth, start = [], 0, 0
    for at, char in enumerate(item):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(item[start:at])
            start = at + 1
    return [*parts, item[start:]]


def _split(values: str | None) -> list[str]:
    return [v.strip() for v in (values or "").split(",") if v.strip()]


def _check_label(flag: str, item: str, key: str, values: Sequence[str]) -> None:
    for problem in [k8snames.label_key(key), *map(k8snames.label_value, values)]:
        if problem is not None:
            raise UsageError(
                f"{flag} {item!r}: {problem}",
                hint="spokes' labels follow Kubernetes' rules (the fleet file checks them too)",
            )


def from_flags(
    *,
    name: str,
    command: Sequence[str],
    cpu: str = "100m",
    memory: str = "128Mi",
    gpu: int = 0,
    selector: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    image: str | None = None,
    priority: int = 0,
    retries: int = 0,
    pending_deadline: float | None = None,
    timeout: float | None = None,
    exclusive: bool = False,
    lease: float | None = None,
) -> WorkloadSpec:
    """One workload from what `kindfleet submit -n NAME ... -- COMMAND` was given."""
    raw = {
        "name": name,
        "command": list(command),
        "image": image,
        "env": dict(env or {}),
        "labels": dict(labels or {}),
        "resources": {"cpu": cpu, "memory": memory, "gpu": gpu},
        "selector": dict(selector or {}),
        "priority": priority,
        "retry": {"max_retries": retries},
        "pending_deadline_seconds": pending_deadline,
        "timeout_seconds": timeout,
        "mode": "exclusive" if exclusive or lease is not None else "autonomous",
        "lease_seconds": lease,
    }
    return validate(raw, source="command line")


def idempotency_keys(key: str | None, count: int) -> list[str | None]:
    """One key per workload: `key` itself for one, `key-<i>` for each of several; with no
    key, none (the client makes a fresh one per workload, kept across its own retries)."""
    if key is None:
        return [None] * count
    if not key.strip():  # `-0`, `-1`... would be keys all the same, shared by every such run
        raise UsageError("--key must not be empty", hint="e.g. --key train-2026-01-17")
    keys: list[str] = [key] if count == 1 else [f"{key}-{i}" for i in range(count)]
    problem = next((p for k in keys if (p := idempotency_key_problem(k)) is not None), None)
    if problem is not None:  # what the hub would refuse, said before anything is sent
        longest = MAX_IDEMPOTENCY_KEY - len(keys[-1]) + len(key)
        raise UsageError(
            f"--key {key!r}: "
            + ("must not be empty" if not key.strip() else problem)
            + (f" (with {count} workloads, `-<i>` is added to it)" if count > 1 else ""),
            hint=f"e.g. --key train-2026-01-17: letters, digits and -._:/, at most {longest}",
        )
    checked: list[str | None] = list(keys)
    return checked
