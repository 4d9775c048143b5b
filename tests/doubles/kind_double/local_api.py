"""The double's API server as a plain local process: a Kubernetes API for kubectl, with
TLS, for tests that need one without Docker (the existing provider's)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.doubles.kind_double.kind import make_pki

APISERVER = Path(__file__).resolve().parent / "apiserver.py"


def available() -> str | None:
    """Why the local API server cannot run here, or None."""
    if shutil.which("openssl") is None:
        return "openssl not found (the double makes its certificates with it)"
    if shutil.which("kubectl") is None:
        return "kubectl not found on PATH"
    return None


@dataclass(frozen=True)
class Api:
    url: str
    pki: dict[str, str]

    def kubeconfig(self, context: str) -> dict:
        def b64(text: str) -> str:
            return base64.b64encode(text.encode()).decode()

        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {
                "server": self.url, "certificate-authority-data": b64(self.pki["ca.crt"])}}],
            "users": [{"name": context, "user": {
                "client-certificate-data": b64(self.pki["client.crt"]),
                "client-key-data": b64(self.pki["client.key"])}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        }  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(cluster: dict, *, ready_delay: float = 0.0) -> Iterator[Api]:
    pki = make_pki(cluster["name"])
    port = _free_port()
    env = {
        **os.environ,
        "KIND_DOUBLE_CLUSTER": json.dumps(cluster),
        "KIND_DOUBLE_READY_DELAY": str(ready_delay),
        "KIND_DOUBLE_PORT": str(port),
        "KIND_DOUBLE_ADDRESS": "127.0.0.1",
        "KIND_DOUBLE_TLS_CERT": base64.b64encode(pki["server.crt"].encode()).decode(),
        "KIND_DOUBLE_TLS_KEY": base64.b64encode(pki["server.key"].encode()).decode(),
        "KIND_DOUBLE_TLS_CA": base64.b64encode(pki["ca.crt"].encode()).decode(),
    }
    proc = subprocess.Popen([sys.executable, str(APISERVER)], env=env)
    try:
        context = ssl.create_default_context(cadata=pki["ca.crt"])
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/readyz", context=context, timeout=1
                ):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the local API server did not start") from None
                time.sleep(0.05)
        yield Api(f"https://127.0.0.1:{port}", pki)
    finally:
        proc.terminate()
        proc.wait(5)
