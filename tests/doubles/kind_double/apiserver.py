"""A small Kubernetes API server that runs inside the double's control-plane container.

No node image can be pulled here, so the double's control-plane container runs this
instead of kube-apiserver (with the host's own python3, mounted read-only). The real
`kubectl` talks to it over TLS with the certificates the double made, through the port
KIND would publish, or as `https://<cluster>-control-plane:6443` from the kind network.

It serves what kindfleet and kubectl use: /version, discovery, the OpenAPI v3 bits that
let kubectl send server-side field validation, list / get / server-side apply / create /
delete of namespaced and cluster objects, and a simulation of what matters for `up`:
nodes become Ready once a pod network exists (at once with kindnet, after the
calico-node DaemonSet is applied when the default CNI is disabled), and the calico-node
DaemonSet gets one pod per node that turns Ready. Standard library only (any python3).

And what matters for `deploy`, as a real API server does it: the `kubernetes` Service
with its Endpoints and EndpointSlice (the control plane's address, port 6443); a Node's
status patched through the `status` subresource is kept (capacity, allocatable: how
simulated GPUs are advertised) while status in a patch of the Node itself is ignored;
`?dryRun=All` answers without storing anything; a Secret's `stringData` is stored as
base64 `data`.
"""

import base64
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CLUSTER = json.loads(os.environ.get("KIND_DOUBLE_CLUSTER", "{}"))
READY_DELAY = float(os.environ.get("KIND_DOUBLE_READY_DELAY", "0.5"))
STARTED = time.time()
LOCK = threading.Lock()

# group/version -> [(plural, kind, namespaced)]
RESOURCES = {
    "v1": [
        ("namespaces", "Namespace", False),
        ("nodes", "Node", False),
        ("pods", "Pod", True),
        ("services", "Service", True),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("endpoints", "Endpoints", True),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True),
        ("persistentvolumes", "PersistentVolume", False),
    ],
    "apps/v1": [
        ("daemonsets", "DaemonSet", True),
        ("deployments", "Deployment", True),
        ("replicasets", "ReplicaSet", True),
        ("statefulsets", "StatefulSet", True),
    ],
    "batch/v1": [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    "rbac.authorization.k8s.io/v1": [
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
    ],
    "apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "storage.k8s.io/v1": [("storageclasses", "StorageClass", False)],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
    "discovery.k8s.io/v1": [("endpointslices", "EndpointSlice", True)],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass", False)],
}
KINDS = {(gv, plural): (kind, ns) for gv, items in RESOURCES.items() for plural, kind, ns in items}
SHORT_NAMES = {
    "namespaces": ["ns"], "nodes": ["no"], "pods": ["po"], "services": ["svc"],
    "configmaps": ["cm"], "serviceaccounts": ["sa"], "endpoints": ["ep"],
    "persistentvolumeclaims": ["pvc"], "persistentvolumes": ["pv"], "daemonsets": ["ds"],
    "deployments": ["deploy"], "replicasets": ["rs"], "statefulsets": ["sts"],
    "customresourcedefinitions": ["crd", "crds"], "poddisruptionbudgets": ["pdb"],
    "storageclasses": ["sc"], "priorityclasses": ["pc"], "cronjobs": ["cj"],
    "networkpolicies": ["netpol"],
}  # fmt: skip
NODE_STATUS = {}  # node name -> what patches of its status subresource set

# (gv, plural, namespace or "", name) -> object
OBJECTS = {}
CREATED = {}  # same key -> time created
for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
    OBJECTS[("v1", "namespaces", "", ns)] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns},
        "status": {"phase": "Active"},
    }


def version_info():
    version = CLUSTER.get("version", "v1.35.8")
    major, minor = version.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": version,
        "gitCommit": "kind-double",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _calico_since():
    with LOCK:
        return CREATED.get(("apps/v1", "daemonsets", "kube-system", "calico-node"))


def network_ready_since():
    """When the pod network came up: at start with kindnet, once Calico runs otherwise."""
    if not CLUSTER.get("disableDefaultCNI"):
        return STARTED
    since = _calico_since()
    return since + READY_DELAY if since is not None else None


def _address(name):
    try:
        return socket.gethostbyname(name)
    except OSError:
        return ""


def _first_service_ip():
    import ipaddress

    subnet = CLUSTER.get("serviceSubnet", "10.96.0.0/16").split(",")[0]
    return str(next(ipaddress.ip_network(subnet).hosts()))


def seed_kubernetes_service():
    """What kube-apiserver keeps in `default`: the `kubernetes` Service, its Endpoints and
    EndpointSlice, pointing at the API server's own address."""
    control_plane = f"{CLUSTER.get('name')}-control-plane"
    # Only inside the control-plane container (its own name is in /etc/hosts); the API
    # server run as a plain local process has no node address to give.
    address = _address(control_plane) if socket.gethostname() == control_plane else ""
    addresses = [address] if address else []
    labels = {
        "kubernetes.io/service-name": "kubernetes",
        "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
    }
    port = {"name": "https", "port": 6443, "protocol": "TCP"}
    objects = {
        ("v1", "services"): {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": _first_service_ip(),
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
        },
        ("v1", "endpoints"): {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": a} for a in addresses], "ports": [port]}] if addresses else [],
        },
        ("discovery.k8s.io/v1", "endpointslices"): {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
            "addressType": "IPv4",
            "endpoints": [{"addresses": addresses, "conditions": {"ready": True}}] if addresses else [],
            "ports": [port],
        },
    }  # fmt: skip
    with LOCK:
        for (gv, plural), obj in objects.items():
            OBJECTS[(gv, plural, "default", "kubernetes")] = obj
            CREATED[(gv, plural, "default", "kubernetes")] = STARTED


def node_object(node):
    since = network_ready_since()
    ready = since is not None and time.time() - STARTED >= READY_DELAY and time.time() >= since
    labels = {
        "kubernetes.io/hostname": node["name"],
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    if node["role"] == "control-plane":
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    labels.update(node.get("labels") or {})
    message = "kubelet is posting ready status"
    if not ready:
        message = (
            "container runtime network not ready: NetworkReady=false "
            "reason:NetworkPluginNotReady message:Network plugin returns error: "
            "cni plugin not initialized"
        )
    spec = {"podCIDR": "", "providerID": f"kind://docker/{CLUSTER.get('name')}/{node['name']}"}
    if node["role"] == "control-plane":
        spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    status = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "KubeletReady" if ready else "KubeletNotReady",
                "message": message,
            }
        ],
        "addresses": [
            {"type": "InternalIP", "address": _address(node["name"])},
            {"type": "Hostname", "address": node["name"]},
        ],
        "nodeInfo": {
            "kubeletVersion": CLUSTER.get("version", "v1.35.8"),
            "containerRuntimeVersion": "containerd://2.1.0",
            "osImage": "kind double",
            "architecture": "amd64",
            "operatingSystem": "linux",
        },
        "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
    }
    with LOCK:
        patched = NODE_STATUS.get(node["name"])
    if patched:
        status = merge(status, patched)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node["name"], "labels": labels},
        "spec": spec,
        "status": status,
    }


def daemonset_pods():
    """One pod per node for every DaemonSet; Ready READY_DELAY seconds after it was applied."""
    pods = []
    with LOCK:
        sets = [
            (key, obj, CREATED[key])
            for key, obj in OBJECTS.items()
            if key[0] == "apps/v1" and key[1] == "daemonsets"
        ]
    for (_, _, ns, name), ds, created in sets:
        labels = (((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        ready = time.time() - created >= READY_DELAY
        for i, node in enumerate(CLUSTER.get("nodes", [])):
            pods.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{name}-{i:05x}",
                        "namespace": ns,
                        "labels": dict(labels),
                        "ownerReferences": [{"kind": "DaemonSet", "name": name}],
                    },
                    "spec": {"nodeName": node["name"]},
                    "status": {
                        "phase": "Running" if ready else "Pending",
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "True" if ready else "False",
                                **({} if ready else {"reason": "ContainersNotReady"}),
                            }
                        ],
                    },
                }
            )
    return pods


def matches(obj, selector):
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif labels.get(term) is None:
            return False
    return True


def listing(gv, plural, namespace):
    if (gv, plural) == ("v1", "nodes"):
        return [node_object(n) for n in CLUSTER.get("nodes", [])]
    with LOCK:
        items = [
            obj
            for (g, p, ns, _), obj in OBJECTS.items()
            if g == gv and p == plural and (namespace is None or ns == namespace)
        ]
    if (gv, plural) == ("v1", "pods"):
        items += [p for p in daemonset_pods() if namespace in (None, p["metadata"]["namespace"])]
    return items


def merge(base, patch):
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def openapi_paths():
    paths = {}
    for gv in RESOURCES:
        prefix = "api/v1" if gv == "v1" else f"apis/{gv}"
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash=kinddouble"}
    return {"paths": paths}


def openapi_doc(gv):
    group, _, version = gv.rpartition("/")
    paths = {}
    base = "/api/v1" if gv == "v1" else f"/apis/{gv}"
    for plural, kind, namespaced in RESOURCES.get(gv, []):
        where = (
            f"{base}/namespaces/{{namespace}}/{plural}/{{name}}"
            if namespaced
            else f"{base}/{plural}/{{name}}"
        )
        gvk = {"group": group, "version": version, "kind": kind}
        param = {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
        paths[where] = {
            "patch": {
                "x-kubernetes-group-version-kind": gvk,
                "x-kubernetes-action": "patch",
                "parameters": [param],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "kind-double"},
        "paths": paths,
    }


def _age(obj):
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return f"{int(time.time() - STARTED)}s"
    then = time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    return f"{max(0, int(time.time() - then))}s"


def _ready(obj):
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def table(plural, items):
    """What `kubectl get` (no -o) asks for: a meta.k8s.io Table."""
    if plural == "nodes":
        columns = ["Name", "Status", "Roles", "Age", "Version"]

        def cells(o):
            labels = o["metadata"].get("labels") or {}
            roles = [k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")]
            status = "Ready" if _ready(o) else "NotReady"
            version = o["status"]["nodeInfo"]["kubeletVersion"]
            return [o["metadata"]["name"], status, ",".join(roles) or "<none>", _age(o), version]
    elif plural == "pods":
        columns = ["Name", "Ready", "Status", "Age"]

        def cells(o):
            ready = "1/1" if _ready(o) else "0/1"
            return [o["metadata"]["name"], ready, o["status"].get("phase", ""), _age(o)]
    else:
        columns = ["Name", "Age"]

        def cells(o):
            return [o["metadata"]["name"], _age(o)]

    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": [
            {
                "name": c,
                "type": "string",
                "format": "name" if c == "Name" else "",
                "description": c,
                "priority": 0,
            }
            for c in columns
        ],
        "rows": [
            {
                "cells": cells(o),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"],
                },
            }
            for o in items
        ],
    }


def api_versions():
    where = [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": where}


def api_groups():
    groups = [
        {
            "name": gv.split("/")[0],
            "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
            "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]},
        }
        for gv in RESOURCES
        if gv != "v1"
    ]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


STATIC = {
    "/healthz": lambda: b"ok",
    "/readyz": lambda: b"ok",
    "/livez": lambda: b"ok",
    "/version": version_info,
    "/api": api_versions,
    "/apis": api_groups,
    "/openapi/v3": openapi_paths,
}


def discovery(path):
    """(body, content type) for the paths that are not objects, or None."""
    if path in STATIC:
        body = STATIC[path]()
        return body, "text/plain" if isinstance(body, bytes) else "application/json"
    if path.startswith("/openapi/v3/"):
        prefix = path[len("/openapi/v3/") :]
        gv = "v1" if prefix == "api/v1" else prefix[len("apis/") :]
        return openapi_doc(gv), "application/json"
    return None


def resource_list(gv):
    verbs = ["create", "delete", "get", "list", "patch", "update"]
    resources = [
        {
            "name": plural,
            "singularName": kind.lower(),
            "namespaced": namespaced,
            "kind": kind,
            "shortNames": SHORT_NAMES.get(plural, []),
            "verbs": verbs,
        }
        for plural, kind, namespaced in RESOURCES.get(gv, [])
    ]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("KIND_DOUBLE_LOG"):
            sys.stderr.write("apiserver: " + fmt % args + "\n")

    def send(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def status(self, code, reason, message):
        self.send(
            code,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": reason,
                "code": code,
            },
        )

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        return json.loads(raw or b"{}")

    def route(self):
        """(gv, plural, namespace, name) of a resource path, or None."""
        parts = [p for p in urlparse(self.path).path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            gv, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            gv, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        namespace = None
        if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
            namespace, rest = rest[1], rest[2:]
        if not rest:
            return gv, None, None, None
        return gv, rest[0], namespace, rest[1] if len(rest) > 1 else None

    def query(self):
        return {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}

    def subresource(self):
        """`status` in .../nodes/NAME/status, else None."""
        route = self.route()
        parts = [p for p in urlparse(self.path).path.split("/") if p]
        if route is None or route[3] is None or parts[-1] == route[3]:
            return None
        return parts[-1]

    def dry_run(self):
        return self.query().get("dryRun") == "All"

    def do_GET(self):
        path = urlparse(self.path).path.rstrip("/")
        answer = discovery(path)
        if answer is not None:
            return self.send(200, *answer)
        route = self.route()
        if route is None:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        gv, plural, namespace, name = route
        if plural is None:
            if gv not in RESOURCES:
                return self.status(
                    404, "NotFound", "the server could not find the requested resource"
                )
            return self.send(200, resource_list(gv))
        if (gv, plural) not in KINDS:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        return self.get_objects(gv, plural, namespace, name)

    def get_objects(self, gv, plural, namespace, name):
        query = self.query()
        if query.get("watch") in ("true", "1"):
            return self.status(405, "MethodNotAllowed", "the kind double does not serve watches")
        kind, _ = KINDS[(gv, plural)]
        selector = query.get("labelSelector")
        items = [o for o in listing(gv, plural, namespace) if matches(o, selector)]
        if name is not None:
            items = [o for o in items if o["metadata"]["name"] == name]
            if not items:
                return self.status(404, "NotFound", f'{plural} "{name}" not found')
        if "as=Table" in (self.headers.get("Accept") or ""):
            return self.send(200, table(plural, items))
        if name is not None:
            return self.send(200, items[0])
        body = {"kind": f"{kind}List", "apiVersion": gv, "metadata": {"resourceVersion": "1"}}
        return self.send(200, {**body, "items": items})

    def _key(self):
        route = self.route()
        if route is None or route[1] is None or (route[0], route[1]) not in KINDS:
            self.status(404, "NotFound", "the server could not find the requested resource")
            return None
        gv, plural, namespace, name = route
        _, namespaced = KINDS[(gv, plural)]
        return gv, plural, (namespace or "default") if namespaced else "", name

    def _store(self, key, obj, *, dry_run=False):
        gv, plural, namespace, name = key
        kind, _ = KINDS[(gv, plural)]
        obj = dict(obj)
        obj["apiVersion"], obj["kind"] = gv, kind
        meta = dict(obj.get("metadata") or {})
        meta["name"] = name
        if namespace:
            meta["namespace"] = namespace
        meta.setdefault("uid", f"{abs(hash(key)):x}")
        meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        obj["metadata"] = meta
        if kind == "Secret" and isinstance(obj.get("stringData"), dict):  # as the API stores it
            encoded = {
                k: base64.b64encode(str(v).encode()).decode()
                for k, v in obj.pop("stringData").items()
            }
            obj["data"] = {**(obj.get("data") or {}), **encoded}
        with LOCK:
            fresh = key not in OBJECTS
            merged = merge(OBJECTS.get(key, {}), obj)
            if dry_run:  # ?dryRun=All: the answer a write would get, nothing stored
                return fresh, merged
            OBJECTS[key] = merged
            CREATED.setdefault(key, time.time())
            return fresh, OBJECTS[key]

    def do_PATCH(self):
        key = self._key()
        if key is None:
            return None
        patch = self.body()
        if key[3] is None:
            return self.status(405, "MethodNotAllowed", "patch needs a name")
        if key[1] == "nodes":
            return self.patch_node(key[3], patch)
        fresh, obj = self._store(key, patch, dry_run=self.dry_run())
        return self.send(201 if fresh else 200, obj)

    def patch_node(self, name, patch):
        """Nodes are the kubelets': only their status subresource takes a patch here, and
        only the status part of it (as the API server does for `nodes/status`)."""
        node = next((n for n in CLUSTER.get("nodes", []) if n["name"] == name), None)
        if node is None:
            return self.status(404, "NotFound", f'nodes "{name}" not found')
        if self.subresource() == "status" and isinstance(patch.get("status"), dict):
            if self.dry_run():
                obj = node_object(node)
                return self.send(200, {**obj, "status": merge(obj["status"], patch["status"])})
            with LOCK:
                NODE_STATUS[name] = merge(NODE_STATUS.get(name, {}), patch["status"])
        return self.send(200, node_object(node))

    def do_POST(self):
        route = self.route()
        if route is None or route[1] is None or (route[0], route[1]) not in KINDS:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        body = self.body()
        name = (body.get("metadata") or {}).get("name")
        gv, plural, namespace, _ = route
        _, namespaced = KINDS[(gv, plural)]
        key = (gv, plural, (namespace or "default") if namespaced else "", name)
        with LOCK:
            exists = key in OBJECTS
        if exists:
            return self.status(409, "AlreadyExists", f'{plural} "{name}" already exists')
        _, obj = self._store(key, body, dry_run=self.dry_run())
        return self.send(201, obj)

    def do_DELETE(self):
        key = self._key()
        if key is None:
            return None
        with LOCK:
            obj = OBJECTS.get(key) if self.dry_run() else OBJECTS.pop(key, None)
            if not self.dry_run():
                CREATED.pop(key, None)
        if obj is None:
            return self.status(404, "NotFound", f'{key[1]} "{key[3]}" not found')
        return self.send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


def main():
    import shutil
    import tempfile

    seed_kubernetes_service()
    certs = tempfile.mkdtemp(prefix="kind-double-pki-")
    for name in ("cert", "key", "ca"):
        with open(f"{certs}/{name}.pem", "wb") as handle:  # base64: one line in `docker run -e`
            handle.write(base64.b64decode(os.environ[f"KIND_DOUBLE_TLS_{name.upper()}"]))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{certs}/cert.pem", f"{certs}/key.pem")
    shutil.rmtree(certs)  # loaded: as a local process it must leave no files behind
    # Client certificates are not asked for: busybox's TLS (used to test the internal
    # address from other containers) aborts on a certificate request.
    context.verify_mode = ssl.CERT_NONE
    port = int(os.environ.get("KIND_DOUBLE_PORT", "6443"))
    server = ThreadingHTTPServer((os.environ.get("KIND_DOUBLE_ADDRESS", "0.0.0.0"), port), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
