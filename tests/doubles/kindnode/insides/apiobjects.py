"""What the simulated kube-apiserver serves about its types: the resources it knows,
discovery, the bits of OpenAPI v3 that let kubectl send server-side field validation,
and the Tables `kubectl get` prints. Pure data and functions (no I/O)."""

from __future__ import annotations

import time
from typing import Any

Obj = dict[str, Any]

# group/version -> [(plural, kind, namespaced)]
RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("namespaces", "Namespace", False),
        ("nodes", "Node", False),
        ("pods", "Pod", True),
        ("services", "Service", True),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("endpoints", "Endpoints", True),
        ("events", "Event", True),
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
    "coordination.k8s.io/v1": [("leases", "Lease", True)],
    "certificates.k8s.io/v1": [("certificatesigningrequests", "CertificateSigningRequest", False)],
}
KINDS = {(gv, plural): (kind, ns) for gv, items in RESOURCES.items() for plural, kind, ns in items}
SHORT_NAMES = {
    "namespaces": ["ns"], "nodes": ["no"], "pods": ["po"], "services": ["svc"],
    "configmaps": ["cm"], "serviceaccounts": ["sa"], "endpoints": ["ep"], "events": ["ev"],
    "persistentvolumeclaims": ["pvc"], "persistentvolumes": ["pv"], "daemonsets": ["ds"],
    "deployments": ["deploy"], "replicasets": ["rs"], "statefulsets": ["sts"],
    "customresourcedefinitions": ["crd", "crds"], "poddisruptionbudgets": ["pdb"],
    "storageclasses": ["sc"], "priorityclasses": ["pc"], "cronjobs": ["cj"],
    "networkpolicies": ["netpol"], "certificatesigningrequests": ["csr"],
}  # fmt: skip


def version_info(version: str) -> Obj:
    major, minor = version.lstrip("v").split(".")[:2]
    return {"major": major, "minor": minor, "gitVersion": version, "gitCommit": "kindnode",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.24.0", "compiler": "gc", "platform": "linux/amd64"}  # fmt: skip


def api_versions(address: str) -> Obj:
    where = [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": where}


def api_groups() -> Obj:
    groups = []
    for gv in RESOURCES:
        if gv == "v1":
            continue
        group, version = gv.split("/")
        entry = {"groupVersion": gv, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list(gv: str) -> Obj:
    verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]
    resources: list[Obj] = []
    for plural, kind, namespaced in RESOURCES.get(gv, []):
        resources.append({"name": plural, "singularName": kind.lower(), "namespaced": namespaced,
                          "kind": kind, "shortNames": SHORT_NAMES.get(plural, []),
                          "verbs": verbs})  # fmt: skip
        if plural in ("nodes", "pods", "daemonsets", "deployments", "certificatesigningrequests"):
            resources.append({"name": f"{plural}/status", "singularName": "",
                              "namespaced": namespaced, "kind": kind,
                              "verbs": ["get", "patch", "update"]})  # fmt: skip
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}  # fmt: skip


def openapi_paths() -> Obj:
    paths = {}
    for gv in RESOURCES:
        prefix = "api/v1" if gv == "v1" else f"apis/{gv}"
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash=kindnode"}
    return {"paths": paths}


def openapi_doc(gv: str) -> Obj:
    """Per resource, a patch operation that takes fieldValidation: how kubectl learns the
    server validates fields itself (so it sends ?fieldValidation=Strict, no OpenAPI v2)."""
    group, _, version = gv.rpartition("/")
    base = "/api/v1" if gv == "v1" else f"/apis/{gv}"
    paths = {}
    for plural, kind, namespaced in RESOURCES.get(gv, []):
        where = (f"{base}/namespaces/{{namespace}}/{plural}/{{name}}" if namespaced
                 else f"{base}/{plural}/{{name}}")  # fmt: skip
        param = {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
        operation = {"x-kubernetes-group-version-kind": {"group": group, "version": version,
                                                         "kind": kind},
                     "x-kubernetes-action": "patch", "parameters": [param],
                     "responses": {"200": {"description": "OK"}}}  # fmt: skip
        paths[where] = {"patch": operation}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "kindnode"},
            "paths": paths}  # fmt: skip


def condition(obj: Obj, kind: str) -> bool:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status") == "True"
    return False


def _age(obj: Obj) -> str:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    then = time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    seconds = max(0, int(time.time() - then))
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"


def _node_cells(o: Obj) -> list[str]:
    labels = o["metadata"].get("labels") or {}
    roles = [k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")]
    status = "Ready" if condition(o, "Ready") else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    version = ((o.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    return [o["metadata"]["name"], status, ",".join(sorted(roles)) or "<none>", _age(o), version]


def _pod_cells(o: Obj) -> list[str]:
    status = o.get("status") or {}
    ready = "1/1" if condition(o, "Ready") else "0/1"
    return [o["metadata"]["name"], ready, status.get("phase", "Pending"), "0", _age(o)]


COLUMNS = {
    "nodes": (["Name", "Status", "Roles", "Age", "Version"], _node_cells),
    "pods": (["Name", "Ready", "Status", "Restarts", "Age"], _pod_cells),
}


def table(plural: str, items: list[Obj]) -> Obj:
    """What `kubectl get` (no -o) asks for: a meta.k8s.io Table."""
    columns, cells = COLUMNS.get(
        plural, (["Name", "Age"], lambda o: [o["metadata"]["name"], _age(o)])
    )
    definitions = [{"name": c, "type": "string", "format": "name" if c == "Name" else "",
                    "description": c, "priority": 0} for c in columns]  # fmt: skip
    rows = [{"cells": cells(o), "object": {"kind": "PartialObjectMetadata",
                                           "apiVersion": "meta.k8s.io/v1",
                                           "metadata": o["metadata"]}} for o in items]  # fmt: skip
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "1"},
            "columnDefinitions": definitions, "rows": rows}  # fmt: skip


def matches(obj: Obj, selector: str | None) -> bool:
    """Equality-based label selectors (`a=b,c!=d,e`), what kubectl -l sends."""
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        if term.startswith("!"):
            if term[1:] in labels:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True


def field_matches(obj: Obj, selector: str | None) -> bool:
    """Field selectors the kubelet and kubectl use: metadata.name, spec.nodeName."""
    if not selector:
        return True
    for term in selector.split(","):
        key, _, value = term.replace("==", "=").partition("=")
        current: Any = obj
        for part in key.split("."):
            current = (current or {}).get(part) if isinstance(current, dict) else None
        if str(current or "") != value:
            return False
    return True


def merge(base: Obj, patch: Obj) -> Obj:
    """JSON merge patch (RFC 7386); strategic-merge directives (`$patch`, ...) dropped."""
    out = dict(base)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = merge({}, value)
        else:
            out[key] = value
    return out


def json_patch(doc: Obj, ops: list[Obj]) -> Obj:
    """RFC 6902 add / remove / replace (what `kubectl patch --type=json` sends)."""
    import copy

    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent: Any = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = parts[-1]
        if op["op"] in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if op["op"] == "add":
                    parent.insert(index, op["value"])
                else:
                    parent[index] = op["value"]
            else:
                parent[last] = op["value"]
        elif op["op"] == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last, None)
    return doc
