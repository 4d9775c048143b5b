"""A small Kubernetes API client for the node's programs (kubeadm, kubelet, controllers):
JSON over HTTPS with the server, CA and credentials of a kubeconfig file."""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .common import Connections

Obj = dict[str, Any]


class Client:
    def __init__(self, server: str, ca_pem: str | None = None, token: str | None = None, *,
                 cert_pem: str | None = None, key_pem: str | None = None,
                 verify: bool = True) -> None:  # fmt: skip
        self.server = server.rstrip("/")
        self.token = token
        if verify and ca_pem:
            self.context = ssl.create_default_context(cadata=ca_pem)
        else:
            self.context = ssl._create_unverified_context()
        self.connections = Connections(self.server, self.context)
        if cert_pem and key_pem:
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
                cert.write_text(cert_pem)
                key.write_text(key_pem)
                self.context.load_cert_chain(str(cert), str(key))

    @classmethod
    def from_kubeconfig(cls, path: str | Path, server: str | None = None) -> Client:
        config = yaml.safe_load(Path(path).read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]

        def data(field: str) -> str | None:
            value = cluster.get(field) or user.get(field)
            return base64.b64decode(value).decode() if value else None

        return cls(server or cluster["server"], data("certificate-authority-data"),
                   user.get("token"), cert_pem=data("client-certificate-data"),
                   key_pem=data("client-key-data"))  # fmt: skip

    def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json",
        timeout: float = 10,
    ) -> tuple[int, Any]:  # fmt: skip
        """(status code, decoded body); connection errors raise OSError."""
        headers = {"Accept": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        status, raw = self.connections.request(method, path, data, headers, timeout)
        return status, _decode(raw)

    def get(self, path: str) -> Obj | None:
        code, body = self.call("GET", path)
        return body if code == 200 else None

    def create(self, path: str, obj: Obj) -> int:
        return self.call("POST", path, obj)[0]

    def apply(self, path: str, obj: Obj) -> int:
        """Create, or merge into what exists (how kubeadm's phases write their objects)."""
        code = self.create(path, obj)
        if code == 409:
            name = obj["metadata"]["name"]
            code = self.call("PATCH", f"{path}/{name}", obj, "application/merge-patch+json")[0]
        return code

    def patch(self, path: str, patch: Obj) -> int:
        return self.call("PATCH", path, patch, "application/merge-patch+json")[0]

    def healthy(self) -> bool:
        try:
            return self.call("GET", "/healthz", timeout=2)[0] == 200
        except OSError:
            return False


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")
