"""kube-apiserver, reduced to what kind, kubeadm, the kubelets and kubectl use.

kubeadm writes its static pod (with the flags a real one gets); the kubelet runs it. It
serves TLS with the certificate kubeadm made (real `kubectl` checks it against the CA in
admin.conf), keeps every object in etcd (so the API servers of an HA cluster share one
state), and serves: /version, /healthz, discovery, the OpenAPI v3 bits for server-side
field validation, list / get / watch-less / create / update / patch (merge, strategic,
JSON and apply patches) / delete of the types in `apiobjects`, `status` subresources,
Tables for `kubectl get`, label and field selectors, `?dryRun=All`.

Simplified: client certificates are not requested (busybox's TLS, used by other tests,
aborts on a certificate request), so the caller is anonymous unless it sends a bearer
token, and then it must be a valid bootstrap token (kubeadm join's). No authorization, no
admission, no watches, no defaulting beyond metadata; a Secret's stringData is stored as
data; the `kubernetes` Service and its endpoints list every API server.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

from . import apiobjects as api
from .common import args_after, log
from .etcd import Etcd

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # group/version, plural, namespace ("" if cluster-wide), name


class Conflict(Exception):
    pass


class Store:
    """Objects in etcd under /registry/<group>/<plural>/<namespace>/<name>, as JSON; the
    etcd revision of the last write is the object's resourceVersion."""

    def __init__(self, etcd: Etcd) -> None:
        self.etcd = etcd

    @staticmethod
    def path(gv: str, plural: str, namespace: str = "", name: str = "") -> str:
        group = gv.rpartition("/")[0] or "core"
        return (
            f"/registry/{group}/{plural}/{namespace}/{name}"
            if name
            else (f"/registry/{group}/{plural}/{namespace + '/' if namespace else ''}")
        )

    @staticmethod
    def _load(raw: bytes, revision: int) -> Obj:
        obj = json.loads(raw)
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return obj

    def get(self, key: Key) -> Obj | None:
        found = self.etcd.get(self.path(*key))
        return self._load(*found) if found else None

    def list(self, gv: str, plural: str, namespace: str | None) -> tuple[list[Obj], int]:
        kvs, revision = self.etcd.prefix(self.path(gv, plural, namespace or ""))
        return [self._load(raw, rev) for _, raw, rev in kvs], revision

    def create(self, key: Key, obj: Obj) -> Obj | None:
        revision = self.etcd.create(self.path(*key), json.dumps(obj).encode())
        return None if revision is None else self._load(json.dumps(obj).encode(), revision)

    def update(self, key: Key, change: Any, create: bool = False) -> tuple[Obj, bool]:
        """Read, change(obj) -> new obj, write if unchanged meanwhile (retried): (obj, fresh)."""
        for _ in range(20):
            found = self.etcd.get(self.path(*key))
            if found is None:
                if not create:
                    raise KeyError(key)
                made = self.create(key, change(None))
                if made is not None:
                    return made, True
                continue
            raw, revision = found
            new = change(self._load(raw, revision))
            new["metadata"].pop("resourceVersion", None)
            data = json.dumps(new).encode()
            written = self.etcd.update(self.path(*key), data, revision)
            if written is not None:
                return self._load(data, written), False
        raise Conflict(f"{key[1]} {key[3]!r}: too many concurrent writes")

    def delete(self, key: Key) -> Obj | None:
        raw = self.etcd.delete(self.path(*key))
        return json.loads(raw) if raw else None


class Server:
    """The settings from kube-apiserver's flags, and the store."""

    store: Store
    advertise = "127.0.0.1"
    port = 6443
    service_range = "10.96.0.0/16"
    version = "v1.35.8"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def prepare(key: Key, obj: Obj, kind: str) -> Obj:
    """What the API server adds or rewrites on create: identity and metadata."""
    gv, _, namespace, name = key
    obj = dict(obj)
    obj["apiVersion"], obj["kind"] = gv, kind
    meta = dict(obj.get("metadata") or {})
    meta["name"] = name
    if namespace:
        meta["namespace"] = namespace
    meta.pop("resourceVersion", None)
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("creationTimestamp", _now())
    meta.setdefault("generation", 1)
    obj["metadata"] = meta
    if kind == "Secret" and isinstance(obj.get("stringData"), dict):
        encoded = {k: base64.b64encode(str(v).encode()).decode()
                   for k, v in obj.pop("stringData").items()}  # fmt: skip
        obj["data"] = {**(obj.get("data") or {}), **encoded}
    return obj


def bootstrap_token_valid(token: str) -> bool:
    """A kubeadm bootstrap token `<id>.<secret>` backed by Secret bootstrap-token-<id>."""
    token_id, _, secret = token.partition(".")
    stored = Server.store.get(("v1", "secrets", "kube-system", f"bootstrap-token-{token_id}"))
    if stored is None:
        return False
    data = stored.get("data") or {}
    return base64.b64decode(data.get("token-secret", "")).decode() == secret


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # a real API server's access log is off by default too

    # --- replies -------------------------------------------------------------------

    def send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def status(self, code: int, reason: str, message: str) -> None:
        self.send(code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Failure", "message": message, "reason": reason,
                         "code": code})  # fmt: skip

    def not_found(self) -> None:
        self.status(404, "NotFound", "the server could not find the requested resource")

    # --- request parts -------------------------------------------------------------

    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}

    def body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        if "yaml" in (self.headers.get("Content-Type") or ""):
            return yaml.safe_load(raw) or {}
        return json.loads(raw)

    def route(self) -> tuple[str, str | None, str | None, str | None, str | None] | None:
        """(gv, plural, namespace, name, subresource) of a resource path, or None."""
        parts = [p for p in urlparse(self.path).path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            gv, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            gv, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest:
            return gv, None, namespace, None, None
        return (gv, rest[0], namespace, rest[1] if len(rest) > 1 else None,
                rest[2] if len(rest) > 2 else None)  # fmt: skip

    def key(self) -> tuple[Key, str, str | None] | None:
        """The object a write is about: (key, kind, subresource), after a 404 if unknown."""
        route = self.route()
        if route is None or route[1] is None or (route[0], route[1]) not in api.KINDS:
            self.not_found()
            return None
        gv, plural, namespace, name, sub = route
        kind, namespaced = api.KINDS[(gv, plural)]
        return (gv, plural, (namespace or "default") if namespaced else "", name or ""), kind, sub

    def authenticated(self) -> bool:
        header = self.headers.get("Authorization") or ""
        if header.startswith("Bearer ") and not bootstrap_token_valid(header[7:].strip()):
            self.status(401, "Unauthorized", "Unauthorized")
            return False
        return True

    def dry_run(self) -> bool:
        return self.query().get("dryRun") == "All"

    # --- verbs ---------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: PLR0911 (one return per kind of answer)
        path = urlparse(self.path).path.rstrip("/")
        static = {
            "/healthz": lambda: b"ok", "/readyz": lambda: b"ok", "/livez": lambda: b"ok",
            "/version": lambda: api.version_info(Server.version),
            "/api": lambda: api.api_versions(f"{Server.advertise}:{Server.port}"),
            "/apis": api.api_groups, "/openapi/v3": api.openapi_paths,
        }  # fmt: skip
        if path in static:
            body = static[path]()
            return self.send(
                200, body, "text/plain" if isinstance(body, bytes) else "application/json"
            )
        if path.startswith("/openapi/v3/"):
            prefix = path[len("/openapi/v3/") :]
            return self.send(200, api.openapi_doc("v1" if prefix == "api/v1" else prefix[5:]))
        if not self.authenticated():
            return None
        route = self.route()
        if route is None:
            return self.not_found()
        gv, plural, namespace, name, _ = route
        if plural is None:
            return (
                self.send(200, api.resource_list(gv)) if gv in api.RESOURCES else self.not_found()
            )
        if (gv, plural) not in api.KINDS:
            return self.not_found()
        if self.query().get("watch") in ("true", "1"):
            return self.status(405, "MethodNotAllowed", "this API server does not serve watches")
        return self.read(gv, plural, namespace, name)

    def read(self, gv: str, plural: str, namespace: str | None, name: str | None) -> None:
        kind, namespaced = api.KINDS[(gv, plural)]
        query = self.query()
        if name is not None:
            obj = Server.store.get(
                (gv, plural, (namespace or "default") if namespaced else "", name)
            )
            if obj is None:
                return self.status(404, "NotFound", f'{plural} "{name}" not found')
            items = [obj]
            revision = obj["metadata"]["resourceVersion"]
        else:
            items, rev = Server.store.list(gv, plural, namespace if namespaced else None)
            items = [o for o in items if api.matches(o, query.get("labelSelector"))
                     and api.field_matches(o, query.get("fieldSelector"))]  # fmt: skip
            revision = str(rev)
        if "as=Table" in (self.headers.get("Accept") or ""):
            return self.send(200, api.table(plural, items))
        if name is not None:
            return self.send(200, items[0])
        meta = {"resourceVersion": revision}
        return self.send(200, {"kind": f"{kind}List", "apiVersion": gv, "metadata": meta,
                               "items": items})  # fmt: skip

    def do_POST(self) -> None:
        if not self.authenticated():
            return None
        found = self.key()
        if found is None:
            return None
        (gv, plural, namespace, _), kind, _ = found
        body = self.body()
        meta = body.get("metadata") or {}
        name = meta.get("name") or (meta.get("generateName", "") + uuid.uuid4().hex[:5])
        key = (gv, plural, namespace, name)
        obj = admit(key, prepare(key, body, kind))
        if self.dry_run():
            return self.send(201, obj)
        made = Server.store.create(key, obj)
        if made is None:
            return self.status(409, "AlreadyExists", f'{plural} "{name}" already exists')
        return self.send(201, made)

    def do_PUT(self) -> None:
        if not self.authenticated():
            return None
        found = self.key()
        if found is None:
            return None
        key, kind, sub = found
        body = self.body()

        def replace(old: Obj | None) -> Obj:
            new = prepare(key, body, kind)
            if old is not None:
                new["metadata"]["uid"] = old["metadata"].get("uid")
                new["metadata"]["creationTimestamp"] = old["metadata"].get("creationTimestamp")
                if sub == "status":
                    return {**old, "status": body.get("status") or {}}
                if "status" in old:  # the main resource does not write status
                    new["status"] = old["status"]
            return new

        return self.write(key, replace, create=sub is None)

    def do_PATCH(self) -> None:
        if not self.authenticated():
            return None
        found = self.key()
        if found is None:
            return None
        key, kind, sub = found
        if not key[3]:
            return self.status(405, "MethodNotAllowed", "patch needs a name")
        patch = self.body()
        content = self.headers.get("Content-Type") or ""
        apply = "apply-patch" in content

        def change(old: Obj | None) -> Obj:
            base = old if old is not None else prepare(key, {}, kind)
            new = api.json_patch(base, patch) if isinstance(patch, list) else api.merge(base, patch)
            if old is not None and sub == "status":  # only status changes
                return {**old, "status": new.get("status") or {}}
            if old is not None and "status" in old and sub is None and kind in ("Node", "Pod"):
                new["status"] = old["status"]  # the kubelet's, through the subresource
            return new

        return self.write(key, change, create=apply, fresh_code=201)

    def write(self, key: Key, change: Any, create: bool, fresh_code: int = 201) -> None:
        if self.dry_run():
            old = Server.store.get(key)
            if old is None and not create:
                return self.status(404, "NotFound", f'{key[1]} "{key[3]}" not found')
            return self.send(200, change(old))
        try:
            obj, fresh = Server.store.update(key, change, create=create)
        except KeyError:
            return self.status(404, "NotFound", f'{key[1]} "{key[3]}" not found')
        except Conflict as exc:
            return self.status(409, "Conflict", str(exc))
        return self.send(fresh_code if fresh else 200, obj)

    def do_DELETE(self) -> None:
        if not self.authenticated():
            return None
        found = self.key()
        if found is None:
            return None
        key, _, _ = found
        obj = Server.store.get(key) if self.dry_run() else Server.store.delete(key)
        if obj is None:
            return self.status(404, "NotFound", f'{key[1]} "{key[3]}" not found')
        return self.send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                               "details": {"name": key[3], "kind": key[1]}})  # fmt: skip


def admit(key: Key, obj: Obj) -> Obj:
    """The defaulting a few types get on create (what kubectl output relies on)."""
    gv, plural, _, _ = key
    if (gv, plural) == ("v1", "namespaces"):
        obj.setdefault("status", {"phase": "Active"})
    if (gv, plural) == ("v1", "pods"):
        obj.setdefault("status", {"phase": "Pending"})
    if (gv, plural) == ("v1", "services"):
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
    return obj


def seed() -> None:
    """What kube-apiserver keeps: the system namespaces, and the `kubernetes` Service whose
    endpoints list every API server (each adds its own advertise address)."""
    store = Server.store
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        key = ("v1", "namespaces", "", ns)
        store.create(key, admit(key, prepare(key, {}, "Namespace")))
    subnet = ipaddress.ip_network(Server.service_range.split(",", maxsplit=1)[0])
    service_key = ("v1", "services", "default", "kubernetes")
    service = {"metadata": {"labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"type": "ClusterIP", "clusterIP": str(next(subnet.hosts())),
                        "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                   "targetPort": Server.port}]}}  # fmt: skip
    store.create(service_key, prepare(service_key, service, "Service"))
    port = {"name": "https", "port": Server.port, "protocol": "TCP"}

    def endpoints(old: Obj | None) -> Obj:
        obj = old or prepare(("v1", "endpoints", "default", "kubernetes"), {}, "Endpoints")
        subsets = obj.get("subsets") or [{"addresses": [], "ports": [port]}]
        ips = {a["ip"] for a in subsets[0].get("addresses") or []} | {Server.advertise}
        subsets[0]["addresses"] = [{"ip": ip} for ip in sorted(ips)]
        return {**obj, "subsets": subsets}

    def slice_(old: Obj | None) -> Obj:
        key = ("discovery.k8s.io/v1", "endpointslices", "default", "kubernetes")
        labels = {"kubernetes.io/service-name": "kubernetes",
                  "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}  # fmt: skip
        obj = old or prepare(key, {"metadata": {"labels": labels}, "addressType": "IPv4",
                                   "ports": [port]}, "EndpointSlice")  # fmt: skip
        ips = {ip for e in obj.get("endpoints") or [] for ip in e.get("addresses", [])}
        ips.add(Server.advertise)
        obj["endpoints"] = [
            {"addresses": [ip], "conditions": {"ready": True}} for ip in sorted(ips)
        ]
        return obj

    store.update(("v1", "endpoints", "default", "kubernetes"), endpoints, create=True)
    store.update(("discovery.k8s.io/v1", "endpointslices", "default", "kubernetes"), slice_,
                 create=True)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    Server.advertise = args_after(argv, "--advertise-address") or "127.0.0.1"
    Server.port = int(args_after(argv, "--secure-port") or 6443)
    Server.service_range = args_after(argv, "--service-cluster-ip-range") or "10.96.0.0/16"
    Server.version = args_after(argv, "--kindnode-version") or Server.version
    etcd = Etcd((args_after(argv, "--etcd-servers") or "https://127.0.0.1:2379").split(",")[0],
                args_after(argv, "--etcd-cafile"))  # fmt: skip
    Server.store = Store(etcd)
    log(f"Version: {Server.version}")
    deadline = time.monotonic() + 60
    while not etcd.healthy():  # the kubelet starts etcd and us together
        if time.monotonic() > deadline:
            log("etcd did not become healthy", "E")
            sys.exit(1)
        time.sleep(0.2)
    seed()
    server = ThreadingHTTPServer(("0.0.0.0", Server.port), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args_after(argv, "--tls-cert-file") or "",
                            args_after(argv, "--tls-private-key-file"))  # fmt: skip
    context.verify_mode = ssl.CERT_NONE
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )  # in the handler thread
    log(f'"Serving securely on [::]:{Server.port}"')
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
