"""The orchestrator's RBAC is exactly what its Kubernetes executor calls, read from the
agent's source: every module the executor factory can import (followed through imports,
wherever the files live, so moving them changes nothing here), each call of a
kubernetes_asyncio API method (`create_namespaced_job`, `list_node`, ...) and each list
call handed to the watching Informer (a list plus a watch). A call the Role does not
grant fails here, and so does a grant no call needs."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from kindfleet.deploy.manifests import render_manifests
from kindfleet.deploy.manifests.objects import WORKLOAD_NAMESPACE
from tests.doubles.deployfakes import fleet

ENTRY = "kindfleet.platform.agent.executors.factory"  # make_executor: where `--executor` leads
API_METHOD = re.compile(
    r"^(?P<verb>create|read|list|delete|patch|replace|deletecollection)_"
    r"(?P<scope>namespaced_)?(?P<kind>[a-z_]+?)(?P<sub>_status|_log|_scale)?$"
)
VERBS = {"read": "get", "replace": "update"}
# The kinds the executor may touch, with their API group and resource. A new kind makes
# this test fail until it is added here and granted in the Role.
KINDS = {"job": ("batch", "jobs"), "pod": ("", "pods"), "node": ("", "nodes")}
SUBRESOURCES = {"_status": "/status", "_log": "/log", "_scale": "/scale"}


def _source(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # `from package.module import Name`: Name is no module
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _imports(tree: ast.AST, module: str, package: bool) -> set[str]:
    found: set[str] = set()
    base = module if package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            parent = base
            for _ in range(max(node.level - 1, 0)):
                parent = parent.rpartition(".")[0]
            target = f"{parent}.{node.module}" if node.level and node.module else node.module
            target = target or parent
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}
    return {name for name in found if name.startswith("kindfleet.platform.agent")}


def executor_modules() -> dict[str, ast.AST]:
    seen: dict[str, ast.AST] = {}
    todo = [ENTRY]
    while todo:
        module = todo.pop()
        path = _source(module) if module not in seen else None
        if path is None:
            continue
        tree = ast.parse(path.read_text())
        seen[module] = tree
        todo += sorted(_imports(tree, module, path.name == "__init__.py") - set(seen))
    return seen


def _grant(name: str, verbs: list[str]) -> set[tuple[str, str, str]]:
    match = API_METHOD.match(name)
    if match is None or match["kind"] not in KINDS:
        raise AssertionError(f"{name}: a Kubernetes call this test does not know; add its kind")
    group, resource = KINDS[match["kind"]]
    resource += SUBRESOURCES.get(match["sub"] or "", "")
    return {(group, resource, v) for v in verbs}


def api_methods() -> set[str]:
    """Every method of kubernetes_asyncio's API classes (so `asyncio.create_task` is not one)."""
    from kubernetes_asyncio import client

    return {
        name
        for cls_name in dir(client)
        if cls_name.endswith("Api") and isinstance(getattr(client, cls_name), type)
        for name in dir(getattr(client, cls_name))
        if API_METHOD.match(name)
    }


def calls() -> set[tuple[str, str, str]]:
    """(API group, resource, verb) of every call the executor's code can make."""
    methods = api_methods()
    found: set[tuple[str, str, str]] = set()
    for tree in executor_modules().values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            if name in methods:
                match = API_METHOD.match(name)
                assert match is not None
                found |= _grant(name, [VERBS.get(match["verb"], match["verb"])])
            callee = node.func.id if isinstance(node.func, ast.Name) else name
            if callee == "Informer":  # a list call it lists, then watches
                for arg in node.args:
                    if isinstance(arg, ast.Attribute) and arg.attr in methods:
                        found |= _grant(arg.attr, ["list", "watch"])
    return found


def granted() -> set[tuple[str, str, str]]:
    spoke = render_manifests(fleet(), cluster="t-cpu")["t-cpu"]
    rules = [
        (obj["kind"], rule)
        for obj in spoke
        if obj["kind"] in ("Role", "ClusterRole")
        for rule in obj["rules"]
    ]
    out = set()
    for kind, rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out |= {(group, resource, verb) for verb in rule["verbs"]}
        if kind == "Role":
            assert {"jobs", "pods"} >= set(rule["resources"])
    return out


def test_the_executor_modules_are_found_through_its_imports():
    modules = executor_modules()
    assert any(m.endswith("kubecalls") or ".kubernetes." in m for m in modules)
    assert len(modules) > 5


def test_the_role_grants_exactly_what_the_orchestrator_calls():
    needed = calls()
    assert ("batch", "jobs", "create") in needed and ("", "pods", "watch") in needed
    assert granted() == needed


def test_the_role_is_namespaced_to_the_workloads():
    spoke = render_manifests(fleet(), cluster="t-cpu")["t-cpu"]
    role = next(o for o in spoke if o["kind"] == "Role")
    assert role["metadata"]["namespace"] == WORKLOAD_NAMESPACE
    cluster_role = next(o for o in spoke if o["kind"] == "ClusterRole")
    assert cluster_role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]
