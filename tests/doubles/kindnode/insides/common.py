"""Small helpers the node's programs share: klog-like logging, YAML documents, polling."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def log(message: str, level: str = "I", out: Any = None) -> None:
    """One line the way Kubernetes components log (klog): `I1130 20:13:00.123456 PID] msg`."""
    now = time.time()
    stamp = time.strftime("%m%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
    stream = out or sys.stderr
    stream.write(f"{level}{stamp} {os.getpid():7d}] {message}\n")
    stream.flush()


def documents(path: str | Path) -> list[dict[str, Any]]:
    """The YAML documents of a file (kind's /kind/kubeadm.conf holds several)."""
    text = Path(path).read_text()
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    for doc in docs:
        if doc.get("kind") == kind:
            return doc
    return {}


def poll(check: Callable[[], T | None], timeout: float, interval: float = 0.2) -> T | None:
    """check() until it returns something other than None, for at most timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def write(path: str | Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write atomically (readers never see half a file), creating parent directories."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        tmp.write_text(data)
    else:
        tmp.write_bytes(data)
    tmp.chmod(mode)
    tmp.replace(target)


def args_after(argv: list[str], flag: str) -> str | None:
    """The value of `--flag=value` or `--flag value` in argv, else None."""
    for i, arg in enumerate(argv):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
    return None
