"""etcd, reduced to the part of its v3 JSON API (the grpc-gateway) the API servers use.

kubeadm writes a static pod for it on the first control plane; the kubelet runs it. Keys
and values are base64 as in etcd's gateway; every write bumps one revision, which the
API server hands out as resourceVersion. Data lives in memory: a node restart loses it.
Secondary control planes do not run a member of their own: their API servers use this
one (the address kubeadm join reads from the etcd mirror pod's annotation, as real
kubeadm does), so one store backs every API server of an HA cluster.

The client (`Etcd`) is what kube-apiserver uses: range, put, delete and the two
transactions it needs (create if absent, update if unchanged).
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from .common import Connections, args_after, log

Record = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes:
    return base64.b64decode(text or "")


class Keyspace:
    """The data: key -> (value, create_revision, mod_revision, version), and a revision."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.revision = 1
        self.data: dict[bytes, tuple[bytes, int, int, int]] = {}

    def _kv(self, key: bytes) -> Record:
        value, create, mod, version = self.data[key]
        return {"key": _b64(key), "value": _b64(value), "create_revision": create,
                "mod_revision": mod, "version": version}  # fmt: skip

    def range(self, request: Record) -> Record:
        key, end = _unb64(request.get("key")), _unb64(request.get("range_end"))
        with self.lock:
            if end:
                keys = sorted(k for k in self.data if key <= k < end)
            else:
                keys = [key] if key in self.data else []
            return {"header": {"revision": self.revision}, "kvs": [self._kv(k) for k in keys],
                    "count": len(keys)}  # fmt: skip

    def put(self, request: Record) -> Record:
        key, value = _unb64(request.get("key")), _unb64(request.get("value"))
        with self.lock:
            self.revision += 1
            old = self.data.get(key)
            create, version = (old[1], old[3] + 1) if old else (self.revision, 1)
            self.data[key] = (value, create, self.revision, version)
            return {"header": {"revision": self.revision}}

    def delete(self, request: Record) -> Record:
        key, end = _unb64(request.get("key")), _unb64(request.get("range_end"))
        with self.lock:
            keys = [k for k in self.data if key <= k < end] if end else [key]
            gone = [self._kv(k) for k in keys if k in self.data]
            for k in keys:
                self.data.pop(k, None)
            if gone:
                self.revision += 1
            return {"header": {"revision": self.revision}, "deleted": len(gone),
                    "prev_kvs": gone}  # fmt: skip

    def _holds(self, compare: Record) -> bool:
        key = _unb64(compare.get("key"))
        current = self.data.get(key)
        target = compare.get("target", "VERSION")
        actual = {"CREATE": current[1] if current else 0, "MOD": current[2] if current else 0,
                  "VERSION": current[3] if current else 0}[target]  # fmt: skip
        expected = int(compare.get({"CREATE": "create_revision", "MOD": "mod_revision"}
                                   .get(target, "version"), 0))  # fmt: skip
        return actual == expected if compare.get("result", "EQUAL") == "EQUAL" else False

    def txn(self, request: Record) -> Record:
        with self.lock:
            succeeded = all(self._holds(c) for c in request.get("compare") or [])
        ops = request.get("success" if succeeded else "failure") or []
        responses: list[Record] = []
        for op in ops:  # not atomic with the compare across threads; enough for one writer
            if "request_put" in op:
                responses.append({"response_put": self.put(op["request_put"])})
            elif "request_range" in op:
                responses.append({"response_range": self.range(op["request_range"])})
            elif "request_delete_range" in op:
                responses.append({"response_delete_range": self.delete(op["request_delete_range"])})
        with self.lock:
            return {"header": {"revision": self.revision}, "succeeded": succeeded,
                    "responses": responses}  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    keyspace: Keyspace

    def log_message(self, fmt: str, *args: Any) -> None:  # the gateway is quiet
        pass

    def reply(self, body: Record, code: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path == "/health":
            return self.reply({"health": "true", "reason": ""})
        if path == "/version":
            return self.reply({"etcdserver": "3.6.4", "etcdcluster": "3.6.0"})
        return self.reply({"error": "not found", "code": 5}, 404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        ops = {"/v3/kv/range": self.keyspace.range, "/v3/kv/put": self.keyspace.put,
               "/v3/kv/deleterange": self.keyspace.delete, "/v3/kv/txn": self.keyspace.txn}  # fmt: skip
        op = ops.get(urlparse(self.path).path)
        if op is None:
            return self.reply({"error": "Not Found", "code": 5}, 404)
        return self.reply(op(request))


class Etcd:
    """The client: JSON over HTTPS to an etcd endpoint, verifying it with the etcd CA."""

    def __init__(self, endpoint: str, cafile: str | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.context = ssl.create_default_context(cafile=cafile) if cafile else None
        if self.context is not None:
            self.context.check_hostname = False  # the member's address is an IP or a name
        self.connections = Connections(self.endpoint, self.context)

    def call(self, path: str, body: Record) -> Record:
        status, data = self.connections.request(
            "POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        if status != 200:
            raise OSError(f"etcd {path}: HTTP {status}")
        return json.loads(data)

    def healthy(self) -> bool:
        try:
            status, data = self.connections.request("GET", "/health", timeout=2)
        except OSError:
            return False
        return status == 200 and json.loads(data).get("health") == "true"

    @staticmethod
    def _kv(kv: Record) -> tuple[str, bytes, int]:
        return _unb64(kv["key"]).decode(), _unb64(kv["value"]), int(kv["mod_revision"])

    def get(self, key: str) -> tuple[bytes, int] | None:
        kvs = self.call("/v3/kv/range", {"key": _b64(key.encode())}).get("kvs") or []
        return (self._kv(kvs[0])[1], self._kv(kvs[0])[2]) if kvs else None

    def prefix(self, prefix: str) -> tuple[list[tuple[str, bytes, int]], int]:
        """Every key under prefix, and the store's revision (a list's resourceVersion)."""
        raw = prefix.encode()
        end = raw[:-1] + bytes([raw[-1] + 1])
        answer = self.call("/v3/kv/range", {"key": _b64(raw), "range_end": _b64(end)})
        return [self._kv(kv) for kv in answer.get("kvs") or []], int(answer["header"]["revision"])

    def create(self, key: str, value: bytes) -> int | None:
        """Put key if absent: the new revision, or None when it exists."""
        put = {"request_put": {"key": _b64(key.encode()), "value": _b64(value)}}
        compare = {"key": _b64(key.encode()), "target": "CREATE", "create_revision": 0}
        answer = self.call("/v3/kv/txn", {"compare": [compare], "success": [put]})
        return int(answer["header"]["revision"]) if answer.get("succeeded") else None

    def update(self, key: str, value: bytes, revision: int) -> int | None:
        """Put key if it was not modified since revision: the new revision, or None."""
        put = {"request_put": {"key": _b64(key.encode()), "value": _b64(value)}}
        compare = {"key": _b64(key.encode()), "target": "MOD", "mod_revision": revision}
        answer = self.call("/v3/kv/txn", {"compare": [compare], "success": [put]})
        return int(answer["header"]["revision"]) if answer.get("succeeded") else None

    def delete(self, key: str) -> bytes | None:
        answer = self.call("/v3/kv/deleterange", {"key": _b64(key.encode())})
        gone = answer.get("prev_kvs") or []
        return self._kv(gone[0])[1] if gone else None


def _listen(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "0.0.0.0", parsed.port or 2379


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    urls = (args_after(argv, "--listen-client-urls") or "https://127.0.0.1:2379").split(",")
    port = _listen(urls[0])[1]
    Handler.keyspace = Keyspace()
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)  # every listed address
    server.daemon_threads = True
    cert, key = args_after(argv, "--cert-file"), args_after(argv, "--key-file")
    if cert and key:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    name = args_after(argv, "--name") or "default"
    log(f'"starting etcd member" name="{name}" listen-client-urls="{",".join(urls)}"')
    log('"ready to serve client requests"')
    server.serve_forever()


if __name__ == "__main__":
    main()
