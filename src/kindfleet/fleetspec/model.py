"""The `kindfleet.dev/v1alpha1` fleet file, exactly as users write it.

This is the public, versioned schema: strict (unknown keys are errors, reported with a
"did you mean"), camelCase like KIND's own config. It only checks what one field can
check on its own; everything that needs the whole fleet (names, ports, subnets, image
per version) happens in `resolve`, which turns this into the internal model.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
)
from pydantic.alias_generators import to_camel

from kindfleet import kubelet
from kindfleet.fleetspec import k8snames
from kindfleet.fleetspec.errors import FieldProblem, did_you_mean

API_VERSION = "kindfleet.dev/v1alpha1"
AUTO = "auto"


class FileModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=False,
        frozen=True,
    )


def _labels(value: Any) -> Any:
    """From Python data, `True` and `3` mean "true" and "3"; YAML files already give text
    (`yamlread` keeps label values as written, as kind does). A float is refused: 1.10
    and 1.1 are the same float, so its text is lost."""
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, int):
            out[key] = str(item)
        elif item is None:
            out[key] = ""
        else:
            out[key] = item
    return out


PLACEHOLDERS = ("{index}", "{name}", "{fleet}")


def _label_key(key: str) -> str:
    problem = k8snames.label_key(key)
    if problem:
        raise FieldProblem(problem)
    return key


def _node_label_key(key: str) -> str:
    problem = k8snames.kubelet_may_set(key)
    if problem:
        raise FieldProblem(problem)
    return key


def _label_value(value: str) -> str:
    # Placeholders are filled in per spoke; the filled value is checked again then.
    sample = value
    for placeholder in PLACEHOLDERS:
        sample = sample.replace(placeholder, "x1")
    problem = k8snames.label_value(sample)
    if problem:
        raise FieldProblem(problem)
    return value


# Each key and each value checked on its own, so every bad label of a map is reported.
LabelValue = Annotated[str, AfterValidator(_label_value)]
Labels = Annotated[
    dict[Annotated[str, AfterValidator(_label_key)], LabelValue],
    BeforeValidator(_labels),
    Field(default_factory=dict),
]
NodeLabels = Annotated[
    dict[Annotated[str, AfterValidator(_label_key), AfterValidator(_node_label_key)], LabelValue],
    BeforeValidator(_labels),
    Field(default_factory=dict),
]


def _ip_address(value: str | None, example: str) -> str | None:
    if value is not None:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise FieldProblem(
                f"{value!r} is not an IP address: Docker publishes ports on an IP",
                f"e.g. {example}",
            ) from None
    return value


Port = Annotated[int, Field(ge=1, le=65535)]
# An image reference, loosely (registry host and port, path, tag, digest): no spaces, no
# control characters, nothing a shell or a terminal would act on.
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,254}(@sha256:[0-9a-f]{64})?")


def _image_ref(value: str, example: str) -> str:
    if not _IMAGE.fullmatch(value):
        raise FieldProblem(f"{value[:80]!r} is not an image reference", f"e.g. {example}")
    return value


def _node_image(value: str) -> str:
    return _image_ref(value, '"kindest/node:v1.33.1"')


def _registry_image(value: str) -> str:
    return _image_ref(value, '"registry:3" or "my.mirror:5000/library/registry:3"')


NodeImage = Annotated[str, AfterValidator(_node_image)]
RegistryImage = Annotated[str, AfterValidator(_registry_image)]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class PortMapping(FileModel):
    """A node container port published on the host (KIND `extraPortMappings`)."""

    container_port: Port
    host_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    listen_address: str | None = None
    # kind takes `tcp` as TCP (found from outside: kindfleet alone refused it)
    protocol: Annotated[Literal["TCP", "UDP", "SCTP"], BeforeValidator(_upper)] = "TCP"

    @field_validator("listen_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return _ip_address(value, "127.0.0.1")


class Mount(FileModel):
    """A host path mounted into the node container (KIND `extraMounts`)."""

    host_path: Annotated[str, Field(min_length=1)]
    container_path: Annotated[str, Field(min_length=1)]
    read_only: bool = False
    selinux_relabel: bool = False
    propagation: Literal["None", "HostToContainer", "Bidirectional"] | None = None

    @field_validator("host_path", "container_path")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:  # no file system has one; render wrote it into kind's config
            raise ValueError("a path cannot hold a NUL character (\\0): remove it")
        return value

    @field_validator("container_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must be an absolute path inside the node, e.g. /data")
        return value


class Taint(FileModel):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        problem = k8snames.label_key(value)
        if problem:
            raise ValueError(problem.replace("label key", "taint key"))
        return value

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        problem = k8snames.label_value(value)
        if problem:
            raise ValueError(problem.replace("label value", "taint value"))
        return value


class NodeGroup(FileModel):
    """`count` identical nodes of one role."""

    role: Literal["control-plane", "worker"]
    count: Annotated[int, Field(ge=1, le=50, strict=True)] = 1
    labels: NodeLabels
    taints: list[Taint] = Field(default_factory=list)
    gpus: Annotated[int, Field(ge=0, le=64, strict=True)] = 0
    port_mappings: list[PortMapping] = Field(default_factory=list)
    mounts: list[Mount] = Field(default_factory=list)
    image: NodeImage | None = None
    kind_config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("taints")
    @classmethod
    def _unique_taints(cls, value: list[Taint]) -> list[Taint]:
        seen: set[tuple[str, str]] = set()
        for taint in value:
            if (taint.key, taint.effect) in seen:  # a node so tainted fails to register
                raise FieldProblem(
                    f"taint {taint.key}:{taint.effect} is given twice",
                    "give each key and effect once: Kubernetes refuses a node with both",
                )
            seen.add((taint.key, taint.effect))
        return value


Subnet = str  # "auto" or a CIDR (two, comma-separated, for dual stack); checked in resolve


class Networking(FileModel):
    """Per-cluster networking; subnets left `auto` are allocated so no two clusters overlap."""

    cni: Literal["kindnet", "calico", "none"] = "kindnet"
    calico_version: str | None = None
    pod_subnet: Subnet = AUTO
    service_subnet: Subnet = AUTO
    kube_proxy_mode: Literal["iptables", "ipvs", "nftables", "none"] | None = None
    ip_family: Literal["ipv4", "ipv6", "dual"] = "ipv4"
    api_server_address: str | None = None
    api_server_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    dns_search: list[str] | None = None

    @field_validator("dns_search")
    @classmethod
    def _search(cls, value: list[str] | None) -> list[str] | None:
        for domain in value or []:
            if not k8snames.dns_subdomain(domain):
                raise FieldProblem(
                    f"{domain[:80]!r} is not a DNS domain", 'e.g. ["corp.example.com"]'
                )
        return value

    @field_validator("api_server_address")
    @classmethod
    def _api_address(cls, value: str | None) -> str | None:
        return _ip_address(value, "127.0.0.1, or 0.0.0.0 to reach it from other machines")

    @field_validator("calico_version")
    @classmethod
    def _calico_tag(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"v3\.\d+\.\d+", value):
            raise FieldProblem(
                f"{value!r} is not a Calico release: kindfleet applies the calico.yaml of a "
                "v3 release tag",
                'write the tag, e.g. "v3.33.1"',
            )
        return value


class Capacity(FileModel):
    """What a spoke offers when nothing can measure it (the local provider)."""

    # At least a millicore (0.0000001 passed `> 0` and offered none), and finite.
    cpu: Annotated[float, Field(ge=0.001, allow_inf_nan=False)] = 4
    memory: str = "8Gi"
    gpu: Annotated[int, Field(ge=0)] | None = None

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        from kindfleet.units import parse_memory

        parse_memory(value)
        return value


def _number_as_text(value: Any) -> Any:
    """A size written as a number of bytes (`0`, `65536`) is a size too; true is not."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a size: write e.g. 10Mi or 500Ki, or 0")
    return str(value) if isinstance(value, int | float) else value


class Runs(FileModel):
    """How a spoke of the local provider treats its runs: the kubelet's log rotation
    (containerLogMaxSize, containerLogMaxFiles) and a container's memory limit."""

    log_max_size: Annotated[str, BeforeValidator(_number_as_text)] = kubelet.LOG_MAX_SIZE
    log_max_files: Annotated[int, Field(ge=1, le=kubelet.LOG_FILES_LIMIT, strict=True)] = (
        kubelet.LOG_MAX_FILES
    )
    memory_limits: Annotated[bool, Field(strict=True)] = True

    @field_validator("log_max_size")
    @classmethod
    def _log_max_size(cls, value: str) -> str:
        from kindfleet.units import parse_memory

        try:
            size = parse_memory(value)
        except ValueError as exc:
            if "larger than" in str(exc):
                raise
            raise ValueError(f"{value!r} is not a size: write e.g. 10Mi or 500Ki, or 0") from None
        if 0 < size < kubelet.LOG_MIN_BYTES:
            raise ValueError("a run's log cap must be at least 16Ki, or 0 for no cap")
        return value


class ClusterSpec(FileModel):
    """The hub, one spoke, or the spoke template."""

    name: str | None = None
    kubernetes_version: str | None = None
    node_image: NodeImage | None = None
    nodes: list[NodeGroup] | None = None
    networking: Networking = Field(default_factory=Networking)
    labels: Labels
    capacity: Capacity | None = None
    runs: Runs | None = None
    context: str | None = None
    kind_config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():  # most often a template variable unset
            raise FieldProblem("is empty", "give a name, or leave `name` out for the default one")
        return value

    @field_validator("nodes")
    @classmethod
    def _one_control_plane(cls, value: list[NodeGroup] | None) -> list[NodeGroup] | None:
        if value is not None and not any(g.role == "control-plane" for g in value):
            raise ValueError("a cluster needs a node with role: control-plane")
        return value


MAX_SPOKES = 100


def _spoke_limit(count: int) -> None:
    if count > MAX_SPOKES:
        raise FieldProblem(
            f"{count} spokes is more than a fleet holds: at most {MAX_SPOKES}, as each spoke "
            "is a KIND cluster of its own (node containers, memory) on this one machine",
            f"use at most {MAX_SPOKES}, or split the spokes over several fleet files",
        )


class SpokeSet(FileModel):
    """`count` spokes stamped from one template, with per-spoke overrides."""

    count: Annotated[int, Field(ge=0, strict=True)]
    name_pattern: str = "{fleet}-spoke{index}"
    template: ClusterSpec = Field(default_factory=ClusterSpec)
    # Keyed by spoke index ("2") or full name; merged into the template before validation.
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("count")
    @classmethod
    def _at_most(cls, value: int) -> int:
        _spoke_limit(value)
        return value

    @field_validator("name_pattern")
    @classmethod
    def _has_index(cls, value: str) -> str:
        unknown = sorted(set(re.findall(r"\{[^}]*\}", value)) - {"{index}", "{fleet}"})
        if unknown:
            hint = did_you_mean(unknown[0], ["{index}", "{fleet}"])
            raise FieldProblem(
                f"{value!r}: {unknown[0]} is not a placeholder",
                hint or "use {fleet} (the fleet's name) and {index} (the spoke's number)",
            )
        if "{index}" not in value:
            raise FieldProblem(
                f"{value!r} has no {{index}}, so every spoke would get the same name",
                "add {index}, e.g. '{fleet}-spoke{index}'",
            )
        return value


def _spoke_count(value: Any) -> Any:
    """The cap, before any item is validated: a 300,000-spoke list fails at once."""
    if isinstance(value, list):
        _spoke_limit(len(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        _spoke_limit(value)
    return value


def _counted(value: int) -> int:
    """The cap again once a count is a number: `spokes: 1e12` is a whole float that
    becomes 10**12 only here (and would be planned, one spoke at a time, into memory)."""
    _spoke_limit(value)
    return value


def _spokes_form(value: Any) -> str:
    if isinstance(value, bool):
        return "invalid"
    if isinstance(value, int | float):
        return "count"  # a float is then told it must be a whole number
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "set"
    return "invalid"


Spokes = Annotated[
    Annotated[int, Field(ge=0), AfterValidator(_counted), Tag("count")]
    | Annotated[list[ClusterSpec], Tag("list")]
    | Annotated[SpokeSet, Tag("set")],
    Discriminator(
        _spokes_form,
        custom_error_type="spokes_form",
        custom_error_message=(
            "spokes must be a number (spokes: 3), a list of spokes, "
            "or a set {count, template, overrides}"
        ),
    ),
    BeforeValidator(_spoke_count),
]


class Registry(FileModel):
    """A local image registry shared by every cluster of the fleet."""

    enabled: bool = True
    name: str | None = None
    host_port: Annotated[int, Field(ge=1, le=65535)] = 5001
    listen_address: str = "127.0.0.1"
    image: RegistryImage = "registry:3"  # as kind's local-registry guide runs it

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        """The registry's container name is the host name the nodes pull from."""
        problem = None if value is None else k8snames.dns_label(value)
        if problem:
            raise FieldProblem(problem, 'e.g. "kind-registry"')
        return value

    @field_validator("listen_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _ip_address(value, "127.0.0.1") or value


class FleetNetworking(FileModel):
    # Docker's default address pools; pod and service subnets must stay clear of them.
    container_subnets: list[str] = Field(default_factory=lambda: ["172.16.0.0/12"])


class FleetFile(FileModel):
    api_version: Literal["kindfleet.dev/v1alpha1"]
    kind: Literal["Fleet"]
    name: str
    provider: Literal["kind", "local", "existing"] = "kind"
    kubernetes_version: str | None = None
    node_image: NodeImage | None = None
    networking: FleetNetworking = Field(default_factory=FleetNetworking)
    registry: Registry | None = None
    hub: ClusterSpec = Field(default_factory=ClusterSpec)
    spokes: Spokes = 0

    @field_validator("registry", mode="before")
    @classmethod
    def _registry_shorthand(cls, value: Any) -> Any:
        """`registry: true` is the default registry, `false` none."""
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = k8snames.dns_label(value, max_length=30)
        if problem:
            raise FieldProblem(problem)
        return value
