"""What a local spoke's agent was started with, kept beside it, so that `status` shows the
labels and capacity it really runs with and `up` sees when the fleet file says otherwise.

A spoke's labels and capacity are its agent's flags: editing them in the fleet file
changes nothing in the running agent, so `up` kept the spoke while the hub went on
placing work by the old labels (and `status` printed the new ones). Now the spoke is
made anew, as the plan says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kindfleet.fleetspec.internal import Cluster
from kindfleet.units import format_cpu, format_memory

DECLARED = "declared.json"


def settings(cluster: Cluster) -> dict[str, Any]:
    """The agent's settings the fleet file gives this spoke (JSON, to be kept)."""
    cap = cluster.capacity
    return {
        "labels": dict(cluster.labels),
        "cpu_millis": cap.cpu_millis,
        "memory_bytes": cap.memory_bytes,
        "gpus": cap.gpus,
        "run_log_max_bytes": cluster.runs.log_max_bytes,
        "run_log_max_files": cluster.runs.log_max_files,
        "run_memory_limits": cluster.runs.memory_limits,
    }


def agent_flags(settings: dict[str, Any]) -> list[str]:
    """The agent's command-line flags for these settings."""
    flags = [
        "--cpu", str(settings["cpu_millis"] / 1000),
        "--memory", format_memory(settings["memory_bytes"]),
        "--gpus", str(settings["gpus"]),
        "--executor", "process",
        "--run-log-max-size", str(settings["run_log_max_bytes"]),
        "--run-log-max-files", str(settings["run_log_max_files"]),
        "--run-memory-limits", "enforce" if settings["run_memory_limits"] else "off",
    ]  # fmt: skip
    labels = ",".join(f"{k}={v}" for k, v in settings["labels"].items())
    return [*flags, "--labels", labels] if labels else flags


def read(directory: Path) -> dict[str, Any] | None:
    """The settings a spoke was started with; None when not kept (made by an older
    kindfleet, or unreadable): nothing is then claimed either way."""
    try:
        data = json.loads((directory / DECLARED).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or set(data) != set(_KEYS):
        return None
    labels = data["labels"]
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        return None
    numbers = [data[k] for k in _KEYS[1:6]]
    if not all(type(n) is int for n in numbers) or type(data["run_memory_limits"]) is not bool:
        return None
    return data


def differences(running: dict[str, Any], wanted: dict[str, Any]) -> str:
    """How the running spoke differs from the fleet file, in words; "" when it does not."""
    said = []
    if running["labels"] != wanted["labels"]:
        said.append(f"runs with labels {_labels(running['labels'])}, the file says "
                    f"{_labels(wanted['labels'])}")  # fmt: skip
    shown: dict[str, tuple[str, Callable[[Any], str]]] = {
        "cpu_millis": ("cpu", format_cpu),
        "memory_bytes": ("memory", format_memory),
        "gpus": ("GPUs", str),
        "run_log_max_bytes": ("run log size", str),
        "run_log_max_files": ("run log files", str),
        "run_memory_limits": ("run memory limits", str),
    }
    for key, (name, show) in shown.items():
        if running[key] != wanted[key]:
            said.append(f"runs with {name} {show(running[key])}, the file says {show(wanted[key])}")
    return "; ".join(said)


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"


_KEYS = (
    "labels",
    "cpu_millis",
    "memory_bytes",
    "gpus",
    "run_log_max_bytes",
    "run_log_max_files",
    "run_memory_limits",
)
