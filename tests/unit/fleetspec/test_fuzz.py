"""Property: whatever a fleet file holds, loading ends in a valid spec or a clean
`SpecError` with paths; never any other exception, and a valid spec always renders to
configs KIND's decoder accepts."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindfleet.errors import SpecError
from kindfleet.fleetspec import from_data, from_text
from kindfleet.render.kindconfig import render_fleet
from tests.conftest import EXAMPLES
from tests.unit.render.kind_decoder import decode

SEEDS = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]

KEYS = [
    "name",
    "nodes",
    "role",
    "count",
    "labels",
    "gpus",
    "spokes",
    "hub",
    "networking",
    "podSubnet",
    "serviceSubnet",
    "cni",
    "hostPort",
    "containerPort",
    "portMappings",
    "mounts",
    "kindConfig",
    "template",
    "overrides",
    "registry",
    "kubernetesVersion",
    "nodeImage",
    "capacity",
    "ipFamily",
    "taints",
    "effect",
    "1",
    "nodez",
    "featureGates",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "auto",
            "10.244.0.0/16",
            "10.0.0.0/8",
            "fd00::/56",
            "worker",
            "control-plane",
            "calico",
            "1.35",
            "v1.36.4",
            "x" * 70,
            "{index}",
            "NoSchedule",
            "true",
            "-a",
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
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
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


def _check(load):
    try:
        spec = load()
    except SpecError as exc:
        assert exc.problems
        assert exc.exit_code == 2
        for problem in exc.problems:
            assert problem.message
        return
    for name, config in render_fleet(spec).items():
        assert decode(config) == [], name


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_fleet_files_never_crash(doc):
    _check(lambda: from_data(doc, source="fuzz.yaml"))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text):
    _check(lambda: from_text(text, source="fuzz.yaml"))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SEEDS).map(yaml.safe_dump), st.integers(0, 400), st.text(max_size=5))
def test_corrupted_yaml_text_never_crashes(text, at, junk):
    _check(lambda: from_text(text[:at] + junk + text[at:], source="fuzz.yaml"))
