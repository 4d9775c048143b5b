"""Property: whatever a fleet file holds, loading ends in a valid spec or a clean
`SpecError` with paths, never any other exception; and every valid spec renders to
configs that kind's own validator accepts, kubeadm rendering included, with every label
and taint reaching kind exactly as the fleet says.

Hypothesis makes the files; kind-validate judges what they render to, once per test for
all examples together (one process per Kubernetes version, not one per example).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindfleet.errors import SpecError
from kindfleet.fleetspec import FleetSpec, from_data, from_text
from kindfleet.render.kindconfig import render_fleet
from tests.conftest import EXAMPLES
from tests.kindvalidate import KIND_VALIDATE, fleet_configs, kind_validate
from tests.unit.render.kind_decoder import decode
from tests.unit.render.test_kindconfig import AMBIGUOUS_VALUES

SEEDS = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]

KEYS = [
    "name", "nodes", "role", "count", "labels", "gpus", "spokes", "hub", "networking",
    "podSubnet", "serviceSubnet", "cni", "hostPort", "containerPort", "portMappings",
    "mounts", "kindConfig", "template", "overrides", "registry", "kubernetesVersion",
    "nodeImage", "capacity", "ipFamily", "taints", "effect", "1", "nodez", "featureGates",
    "context", "kubeProxyMode", "apiServerAddress", "hostPath", "containerPath", "value",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            *AMBIGUOUS_VALUES,
            "auto",
            "10.244.0.0/16",
            "10.0.0.0/8",
            "fd00::/56",
            "worker",
            "control-plane",
            "calico",
            "none",
            "ipv6",
            "dual",
            "1.35",
            "v1.36.4",
            "x" * 70,
            "{index}",
            "{name}",
            "NoSchedule",
            "-a",
            "localhost",
            "::1",
            "./data",
            "~/x",
            "same",
            "kind-t-spoke1",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(doc)))
        action = draw(st.sampled_from(["replace", "delete", "add", "rename"]))
        if not path:
            if action == "replace":
                doc = draw(values)
            continue
        parent = _get(doc, path[:-1])
        key = path[-1]
        if action == "replace":
            parent[key] = draw(values)
        elif action == "delete":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = draw(values)
        elif action == "add" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = parent.pop(key)
    return doc


label_values = st.one_of(
    st.sampled_from(AMBIGUOUS_VALUES), st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)
)


@st.composite
def labelled_text(draw: st.DrawFn) -> str:
    """A fleet file as text, its labels and taints written plain or quoted: what YAML 1.1
    would have retyped must still reach kind as written."""

    def written(value: str) -> str:
        return value if draw(st.booleans()) else f'"{value}"'

    def labels() -> str:
        items = draw(
            st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), label_values, max_size=4)
        )
        return "{" + ", ".join(f"{k}: {written(v)}" for k, v in items.items()) + "}"

    taints = ", ".join(
        f"{{key: t{i}, value: {written(v)}, effect: NoSchedule}}"
        for i, v in enumerate(draw(st.lists(label_values, max_size=3)))
    )
    return (
        "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: f\n"
        f"hub: {{labels: {labels()}, nodes: [{{role: control-plane, labels: {labels()}, "
        f"taints: [{taints}]}}, {{role: worker, labels: {labels()}}}]}}\n"
        f"spokes: {{count: 2, template: {{labels: {labels()}}}}}\n"
    )


def _check(load, valid: list[FleetSpec]) -> None:
    try:
        spec = load()
    except SpecError as exc:
        assert exc.problems
        assert exc.exit_code == 2
        for problem in exc.problems:
            assert problem.message
        return
    for name, config in render_fleet(spec).items():
        assert decode(config) == [], name  # the fast stand-in first
    valid.append(spec)


def _kubeadm_taints(
    output: str, cluster: str, nodes: set[str]
) -> dict[str, list[tuple[str, str, str]]]:
    """node name -> the taints in the kubeadm document kind registers it with: Init for
    the first control plane, Join for every other node (as the renderer patches them).
    Read without typing (BaseLoader): the text kubeadm's string fields get."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for section in output.split("--- # /kind/kubeadm.conf on ")[1:]:
        node, body = section.split(" ", 1)[0], section.split("\n", 1)[1]
        if node not in nodes:
            continue
        docs = {
            d.get("kind"): d
            for d in yaml.load_all(body, Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))
            if isinstance(d, dict)
        }
        first = node == f"{cluster}-control-plane"
        registration = docs["InitConfiguration" if first else "JoinConfiguration"]
        taints = (registration.get("nodeRegistration") or {}).get("taints") or []
        out[node] = [(t["key"], t.get("value", ""), t["effect"]) for t in taints]
    return out


def _kind_agrees(specs: list[FleetSpec]) -> None:
    """kind accepts every rendered config and sees each node's labels and taints as the
    fleet says them."""
    if KIND_VALIDATE is None:
        pytest.skip("kind-validate is not on PATH: checked against the stand-in decoder only")
    expected: dict[str, tuple[FleetSpec, str]] = {}
    by_version: dict[str, dict[str, str]] = {}
    for i, spec in enumerate(specs):
        for name, text, version in fleet_configs(spec):
            label = f"{i}:{name}"
            expected[label] = (spec, name)
            by_version.setdefault(version, {})[label] = text
    for version, configs in by_version.items():
        for label, verdict in kind_validate(configs, kubeadm=version, print_config=True).items():
            assert verdict.ok, (label, configs[label], verdict.errors)
            spec, name = expected[label]
            cluster = spec.cluster(name)
            printed = verdict.output[: verdict.output.index("\n}\n") + 2]
            kind_nodes = json.loads(printed)["Nodes"]
            assert [n["Labels"] or {} for n in kind_nodes] == [
                dict(n.labels) for n in cluster.nodes
            ]
            tainted = {n.name: n for n in cluster.nodes if n.taints}
            for node, taints in _kubeadm_taints(verdict.output, name, set(tainted)).items():
                assert taints == [(t.key, t.value, t.effect) for t in tainted[node].taints]


def test_mutated_fleet_data_never_crashes_and_kind_accepts_what_renders():
    valid: list[FleetSpec] = []

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated())
    def run(doc):
        _check(lambda: from_data(doc, source="fuzz.yaml"), valid)

    run()
    _kind_agrees(valid)


def test_mutated_fleet_text_never_crashes_and_kind_accepts_what_renders():
    """The same mutations through YAML text, so the reader's rules are in play too."""
    valid: list[FleetSpec] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated())
    def run(doc):
        _check(lambda: from_text(yaml.safe_dump(doc), source="fuzz.yaml"), valid)

    run()
    _kind_agrees(valid)


def test_labels_and_taints_reach_kind_exactly_as_written():
    valid: list[FleetSpec] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(labelled_text())
    def run(text):
        _check(lambda: from_text(text, source="fuzz.yaml"), valid)

    run()
    assert valid  # most of these files are valid: an empty run would prove nothing
    _kind_agrees(valid)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text):
    _check(lambda: from_text(text, source="fuzz.yaml"), [])


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SEEDS).map(yaml.safe_dump), st.integers(0, 400), st.text(max_size=5))
def test_corrupted_yaml_text_never_crashes(text, at, junk):
    _check(lambda: from_text(text[:at] + junk + text[at:], source="fuzz.yaml"), [])
