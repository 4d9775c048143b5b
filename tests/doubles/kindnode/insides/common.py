"""Small helpers the node's programs share: klog-like logging, YAML documents, polling."""

from __future__ import annotations

import http.client
import os
import ssl
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

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


class Pace:
    """How long a control loop sleeps between rounds: `fast` while what it sees changes
    (and for `settle` seconds after), `slow` once all has been still. A node's loops at a
    fixed half second cost ~14% of a core per idle node: a core for the article's fleet."""

    def __init__(self, fast: float = 0.5, slow: float = 2.0, settle: float = 10.0) -> None:
        self.fast, self.slow, self.settle = fast, slow, settle
        self.seen: object = None
        self.changed = time.monotonic()

    def interval(self, state: object, *, busy: bool = False) -> float:
        now = time.monotonic()
        if busy or state != self.seen:
            self.seen, self.changed = state, now
        return self.fast if now - self.changed < self.settle else self.slow

    def sleep(self, state: object, *, busy: bool = False) -> None:
        time.sleep(self.interval(state, busy=busy))


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


class Connections:
    """Kept-alive HTTP(S) connections to one server, shared by threads: a TLS handshake
    per request would cost more than the request (the API server talks to etcd, kubelets
    and controllers to the API server, several times a second)."""

    def __init__(self, url: str, context: ssl.SSLContext | None, timeout: float = 10) -> None:
        parsed = urlparse(url)
        self.https = parsed.scheme == "https"
        self.host, self.port = parsed.hostname or "localhost", parsed.port
        self.context, self.timeout = context, timeout
        self.idle: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def _new(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self.context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float | None = None) -> tuple[int, bytes]:  # fmt: skip
        """(status, body); a kept connection that turns out closed is retried on a new one."""
        for attempt in range(2):
            with self.lock:
                conn = self.idle.pop() if self.idle and attempt == 0 else None
            reused = conn is not None
            conn = conn or self._new(timeout or self.timeout)
            try:
                conn.request(method, path, body=body, headers=headers or {})
                answer = conn.getresponse()
                data = answer.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                if reused:
                    continue
                raise
            if answer.will_close:
                conn.close()
            else:
                with self.lock:
                    self.idle.append(conn)
            return answer.status, data
        raise OSError(f"no connection to {self.host}:{self.port}")
