"""The fleets of a version matrix, planned from the fleet file's data with no I/O.

Each version gets a fleet of its own, renamed (`dev` at v1.35.8 is `dev-v1-35`: every
cluster, context and registry name follows), so a run that failed half-way never meets
the next one. Versions that may run at the same time (`--parallel N`: version i runs in
slot i mod N, after version i-N) also get their own pod and service subnets and host
ports: slot 0 keeps the file's own, the others are allocated clear of every fleet of the
matrix, by the same allocator that keeps one fleet's clusters apart.

The plan rewrites the file's data and resolves it again, so every per-version fleet is
checked exactly as `kindfleet validate` checks a file.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from kindfleet.errors import SpecError, UsageError
from kindfleet.fleetspec import from_data, subnets
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.kind import images

MAX_FLEET_NAME = 30  # the fleet file's own limit on `name`
DEFAULT_PATTERN = "{fleet}-spoke{index}"

Data = dict[str, Any]


@dataclass(frozen=True)
class VersionRun:
    """One version of the matrix: the fleet it runs on and where it may run."""

    version: str  # v1.35.8: the Kubernetes version the node images are of
    label: str  # v1-35: what names carry
    slot: int  # runs after the version before it in the same slot
    data: Data  # the per-version fleet file
    spec: FleetSpec

    @property
    def fleet(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class MatrixPlan:
    base: FleetSpec
    runs: tuple[VersionRun, ...]
    parallel: int
    cluster: str | None  # the one cluster whose version varies; None: every cluster


def parse_versions(values: Sequence[str]) -> list[str]:
    """`--versions 1.35,v1.36.4 --versions 1.37` as the pinned versions they name, in
    order, each once; a version kind publishes no image for is a `UsageError`."""
    asked = [v.strip() for value in values for v in value.split(",") if v.strip()]
    if not asked:
        raise UsageError("--versions names no version", hint=f"e.g. --versions {_examples()}")
    found: list[str] = []
    for text in asked:
        version, _, problem = images.choose(version=text, image=None)
        if problem:
            raise UsageError(f"--versions: {problem.message}", hint=problem.fix)
        if version not in found:
            found.append(version)
    return found


def _examples() -> str:
    return ",".join(v.lstrip("v").rsplit(".", 1)[0] for v in reversed(images.available()))


def label(version: str) -> str:
    """v1.35.8 -> v1-35: one image per minor is pinned, so the minor names it."""
    major, minor = version.lstrip("v").split(".")[:2]
    return f"v{major}-{minor}"


def plan(
    data: Mapping[str, Any],
    versions: Sequence[str],
    *,
    parallel: int = 1,
    cluster: str | None = None,
    provider: str | None = None,
    source: str = "<fleet>",
    base_dir: PurePath | None = None,
) -> MatrixPlan:
    """The per-version fleets of `data` (a fleet file's content) for `versions`
    (already parsed). `cluster`: vary only this cluster's version; `provider`: run the
    file with another provider; `base_dir`: where the file's relative mount paths are."""
    if parallel < 1:
        raise UsageError(
            f"--parallel {parallel}: must be at least 1",
            hint="--parallel 1 runs the versions one after another",
        )
    if not versions:
        raise UsageError("--versions names no version", hint=f"e.g. --versions {_examples()}")
    doc = copy.deepcopy(dict(data))
    if provider is not None:
        doc["provider"] = provider
    base = from_data(doc, source=source, base_dir=_path(base_dir))
    if base.provider == "existing":
        raise UsageError(
            "a matrix brings a fleet up at each version; provider existing uses clusters "
            "that already exist",
            hint="run it with `kindfleet --provider kind matrix ...` (or local)",
        )
    index = _cluster_index(base, cluster)
    parallel = min(parallel, len(versions))
    _absolute_mounts(doc, base_dir)
    fixed = _port_claims(doc, base)
    nets = _subnets(base, parallel)
    taken = {port for port, _ in fixed}
    runs = []
    for i, version in enumerate(versions):
        slot = i % parallel
        tag = label(version)
        per = _renamed(doc, base, tag)
        _set_version(per, version, index)
        if slot:
            for c, (pod, service) in nets[slot].items():
                _patch(per, c, {"networking": {"podSubnet": pod, "serviceSubnet": service}})
            taken = _move_ports(per, base, fixed, taken, i)
        runs.append(VersionRun(version, tag, slot, per, _resolve(per, version, source, base_dir)))
    return MatrixPlan(base, tuple(runs), parallel, None if index is None else cluster)


def _path(base_dir: PurePath | None) -> Path | None:
    return Path(base_dir) if base_dir is not None else None


def _resolve(data: Data, version: str, source: str, base_dir: PurePath | None) -> FleetSpec:
    try:
        return from_data(data, source=f"{source} at {version}", base_dir=_path(base_dir))
    except SpecError as exc:
        first = exc.problems[0].render() if exc.problems else exc.message
        raise UsageError(
            f"the fleet renamed for {version} is not valid: {first}",
            hint="names grow by the version (-v1-35): shorten the fleet's or clusters' names",
        ) from None


def _cluster_index(base: FleetSpec, cluster: str | None) -> int | None:
    if cluster is None:
        return None
    try:
        return base.cluster(cluster).index
    except UsageError as exc:
        raise UsageError(f"--cluster: {exc.message}", hint=exc.hint) from None


# --- the clusters of the file's data -----------------------------------------------


def _spokes(doc: Data) -> Data | list[Data]:
    """The spokes as a list or a set, whichever the file has; a count becomes a set
    (same names) so that one spoke can be given its own values."""
    spokes = doc.get("spokes", 0)
    if isinstance(spokes, int):
        spokes = {"count": spokes}
        doc["spokes"] = spokes
    return spokes  # type: ignore[no-any-return]


def _specs(doc: Data) -> Iterator[Data]:
    """Every cluster spec written in the file: hub, list items, template, overrides."""
    doc.setdefault("hub", {})
    yield doc["hub"]
    spokes = _spokes(doc)
    if isinstance(spokes, list):
        yield from spokes
        return
    spokes.setdefault("template", {})
    yield spokes["template"]
    yield from spokes.setdefault("overrides", {}).values()


def _effective(doc: Data, index: int) -> Data:
    """Cluster `index`'s spec as the file means it (a set's template and override merged)."""
    if index == 0:
        return dict(doc.get("hub") or {})
    spokes = _spokes(doc)
    if isinstance(spokes, list):
        return dict(spokes[index - 1])
    override = spokes.get("overrides", {}).get(str(index), {})
    return _merge(spokes.get("template", {}), override)


def _patch(doc: Data, index: int, patch: Mapping[str, Any]) -> None:
    if index == 0:
        doc["hub"] = _merge(doc.get("hub") or {}, patch)
        return
    spokes = _spokes(doc)
    if isinstance(spokes, list):
        spokes[index - 1] = _merge(spokes[index - 1], patch)
        return
    overrides = spokes.setdefault("overrides", {})
    overrides[str(index)] = _merge(overrides.get(str(index), {}), patch)


def _merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> Data:
    """As a set's overrides merge: maps key by key, anything else replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- names ---------------------------------------------------------------------------


def _renamed(doc: Data, base: FleetSpec, tag: str) -> Data:
    """The fleet and everything named in it carry `tag`. Names made from the fleet's
    ({fleet}-hub, {fleet}-spoke2, a pattern with {fleet}) follow the new fleet name;
    names written out get the tag appended."""
    name = f"{base.name}-{tag}"
    if len(name) > MAX_FLEET_NAME:
        keep = MAX_FLEET_NAME - len(tag) - 1
        raise UsageError(
            f"the fleet {base.name!r} at this version would be named {name!r}, longer than "
            f"{MAX_FLEET_NAME} characters",
            hint=f"shorten the fleet's name to {keep} characters at most",
        )
    out = copy.deepcopy(doc)
    out["name"] = name
    spokes = _spokes(out)
    if isinstance(spokes, dict):
        _index_overrides(spokes, base)
        pattern = spokes.get("namePattern", DEFAULT_PATTERN)
        if "{fleet}" not in pattern:
            spokes["namePattern"] = f"{pattern}-{tag}"
    for spec in _specs(out):
        for key in ("name", "context"):
            if spec.get(key):
                spec[key] = f"{spec[key]}-{tag}"
    registry = out.get("registry")
    if isinstance(registry, dict) and registry.get("name"):
        registry["name"] = f"{registry['name']}-{tag}"
    return out


def _index_overrides(spokes: Data, base: FleetSpec) -> None:
    """Overrides keyed by a spoke's name, keyed by its index instead: names change."""
    by_name = {c.name: str(c.index) for c in base.spokes}
    overrides = spokes.get("overrides") or {}
    spokes["overrides"] = {by_name.get(k, k): v for k, v in overrides.items()}


def _absolute_mounts(doc: Data, base_dir: PurePath | None) -> None:
    """Relative host paths read from the file's directory, wherever the copy is written."""
    if base_dir is None:
        return
    for spec in _specs(doc):
        for group in spec.get("nodes") or []:
            for mount in group.get("mounts") or []:
                host = mount.get("hostPath")
                relative = isinstance(host, str) and not PurePath(host).is_absolute()
                if relative and not host.startswith("~"):
                    mount["hostPath"] = str(base_dir / host)


# --- versions ------------------------------------------------------------------------


def _set_version(doc: Data, version: str, index: int | None) -> None:
    """Every cluster (or cluster `index`) at `version`: images written in the file give
    way, as the matrix is about the version."""
    if index is None:
        doc["kubernetesVersion"] = version
        doc.pop("nodeImage", None)
        for spec in _specs(doc):
            spec.pop("kubernetesVersion", None)
            spec.pop("nodeImage", None)
            for group in spec.get("nodes") or []:
                group.pop("image", None)
        return
    patch: Data = {"kubernetesVersion": version, "nodeImage": None}
    groups = _effective(doc, index).get("nodes")
    if groups:
        patch["nodes"] = [{k: v for k, v in g.items() if k != "image"} for g in groups]
    _patch(doc, index, patch)


# --- subnets and ports of fleets that run at the same time ---------------------------


def _subnets(base: FleetSpec, parallel: int) -> list[dict[int, tuple[str, str]]]:
    """Pod and service subnets per slot and cluster index, none overlapping another
    slot's: slot 0 keeps the fleet's own."""
    requests = []
    for slot in range(parallel):
        for c in base.clusters:
            net = c.networking
            pod, service = (net.pod_subnet, net.service_subnet) if slot == 0 else ("auto", "auto")
            requests.append(
                subnets.Request(
                    f"{c.name} (slot {slot})", net.ip_family, pod, service, "", len(c.nodes)
                )
            )
    allocations, problems = subnets.allocate(requests, base.container_subnets)
    if problems:
        raise UsageError(
            f"--parallel {parallel}: {problems[0].message}",
            hint="run fewer versions at once (a lower --parallel)",
        )
    per_slot: list[dict[int, tuple[str, str]]] = [{} for _ in range(parallel)]
    clusters = len(base.clusters)
    for i, alloc in enumerate(allocations):
        per_slot[i // clusters][base.clusters[i % clusters].index] = (alloc.pod, alloc.service)
    return per_slot


# A fixed host port and where it is written: ("registry",), ("api", cluster) or
# ("node", cluster, group, mapping).
Where = tuple[Any, ...]


def _port_claims(doc: Data, base: FleetSpec) -> list[tuple[int, Where]]:
    claims: list[tuple[int, Where]] = []
    if base.registry is not None:
        claims.append((base.registry.host_port, ("registry",)))
    for c in base.clusters:
        if c.networking.api_server_port:
            claims.append((c.networking.api_server_port, ("api", c.index)))
        for g, group in enumerate(_effective(doc, c.index).get("nodes") or []):
            for m, mapping in enumerate(group.get("portMappings") or []):
                if mapping.get("hostPort"):
                    claims.append((int(mapping["hostPort"]), ("node", c.index, g, m)))
    return claims


def _move_ports(
    doc: Data, base: FleetSpec, fixed: Sequence[tuple[int, Where]], taken: set[int], run: int
) -> set[int]:
    """Each fixed host port of the fleet moved to the next port no other fleet of the
    matrix publishes; returns the ports taken now."""
    taken = set(taken)
    nodes: dict[int, list[Data]] = {}
    for port, where in fixed:
        new = port + 1
        while new in taken:
            new += 1
        if new > 65535:
            raise UsageError(
                f"no free host port above {port} for the fleet's copy #{run + 1}",
                hint="use lower host ports in the fleet file, or a lower --parallel",
            )
        taken.add(new)
        if where[0] == "registry":
            registry = doc.get("registry")
            doc["registry"] = {**(registry if isinstance(registry, dict) else {}), "hostPort": new}
        elif where[0] == "api":
            _patch(doc, where[1], {"networking": {"apiServerPort": new}})
        else:
            _, index, g, m = where
            groups = nodes.setdefault(index, copy.deepcopy(_effective(doc, index)["nodes"]))
            groups[g]["portMappings"][m]["hostPort"] = new
    for index, groups in nodes.items():
        _patch(doc, index, {"nodes": groups})
    return taken
