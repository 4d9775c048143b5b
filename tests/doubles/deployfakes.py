"""What deploy's unit tests run against: the lifecycle tests' in-memory provider with
node addresses and a Kubernetes version (what deploy reads from `status`), a runner that
answers docker and kubectl as they answer, a hub that registers spokes over time, and a
clock that only moves when deploy sleeps."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from kindfleet.exec import Command, CommandError, Result
from kindfleet.fleetspec import from_text
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.platform.wire import JoinToken
from kindfleet.providers.base import ClusterStatus, NodeInfo
from tests.doubles.fakeprovider import FakeProvider

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: t
kubernetesVersion: "1.35"
{registry}
hub:
  labels: {{cluster-role: hub}}
  nodes:
    - {{role: control-plane, labels: {{plane: management}}, portMappings: [{{containerPort: 30080, hostPort: 30555}}]}}
    - {{role: worker, labels: {{plane: management}}}}
spokes:
  - name: t-cpu
    labels: {{workload-type: general}}
  - name: t-gpu
    nodes:
      - role: control-plane
      - {{role: worker, labels: {{gpu: "true"}}, gpus: 2}}
"""


ROLLED_OUT = {
    "metadata": {"generation": 2},
    "spec": {"replicas": 1},
    "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1,
               "availableReplicas": 1},
}  # fmt: skip
PUSHED_DIGEST = "sha256:" + "c" * 64  # what the fake registry answers every push with


def fleet(*, registry: bool = True, provider: str | None = None) -> FleetSpec:
    text = FLEET.format(registry="registry: {hostPort: 5099}" if registry else "")
    if provider:
        text = text.replace("kind: Fleet\n", f"kind: Fleet\nprovider: {provider}\n")
    return from_text(text)


def addresses(spec: FleetSpec) -> dict[str, str]:
    """Every node's IP on the container network: 172.18.0.2, .3, ... in fleet order."""
    names = [n.name for c in spec.clusters for n in c.nodes]
    return {name: f"172.18.0.{i}" for i, name in enumerate(names, start=2)}


class DeployProvider(FakeProvider):
    """Every cluster exists and is ready; nodes have addresses; the API says v1.35.8."""

    def __init__(self, spec: FleetSpec, **kwargs: object) -> None:
        super().__init__(existing={c.name: True for c in spec.clusters}, **kwargs)  # type: ignore[arg-type]
        self.addresses = addresses(spec)
        self.registry = "running" if spec.registry else None

    def status(self, fleet: FleetSpec, cluster: Cluster) -> ClusterStatus:
        base = super().status(fleet, cluster)
        nodes = [NodeInfo(n.name, n.role, ready=base.ready, address=self.addresses[n.name])
                 for n in cluster.nodes]  # fmt: skip
        return replace(base, nodes=tuple(nodes), kubernetes_version="v1.35.8")


def slices(*ips: str) -> str:
    endpoints = [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]
    return json.dumps({"items": [{"endpoints": endpoints, "ports": [{"port": 6443}]}]})


@dataclass
class Runner:
    """Answers commands the way docker and kubectl answer them; records every command.

    `api_servers`: context -> addresses of its `kubernetes` EndpointSlice. `fail`: a word
    that makes any command whose argv holds it exit 1 (with `fail_output`)."""

    api_servers: dict[str, list[str]] = field(default_factory=dict)
    local_images: dict[str, str] = field(default_factory=dict)  # ref -> "ID SIZE"
    fail: str | None = None
    fail_output: str = "boom"
    rollouts: list[dict[str, object]] = field(default_factory=list)  # then: rolled out
    journal: list[tuple[str, ...]] | None = None  # where rollout waits are noted, in order
    calls: list[Command] = field(default_factory=list)

    def argvs(self, program: str) -> list[tuple[str, ...]]:
        return [c.argv for c in self.calls if c.argv[0] == program]

    def run(self, command: Command, *, check: bool = True) -> Result:
        self.calls.append(command)
        argv = command.argv
        code, out = 0, ""
        if self.fail and self.fail in argv:
            code, out = 1, ""
        elif argv[:3] == ("docker", "image", "inspect"):
            found = self.local_images.get(argv[-1])
            code, out = (0, found) if found else (1, "")
        elif argv[:2] == ("docker", "push"):
            tag = argv[-1].rpartition(":")[2]
            out = f"The push refers to repository\n{tag}: digest: {PUSHED_DIGEST} size: 1234\n"
        elif argv[:2] == ("docker", "build"):
            self.local_images[argv[argv.index("--tag") + 1]] = "sha256:" + "b" * 64 + " 300000000"
        elif _gets(argv, "deployment"):
            if self.journal is not None:
                where = argv[argv.index("--namespace") + 1]
                name = argv[argv.index("get") + 2]
                self.journal.append(("rollout", _context(argv), where, name))
            out = json.dumps(self.rollouts.pop(0) if self.rollouts else ROLLED_OUT)
        elif "endpointslices" in argv:
            context = argv[argv.index("--context") + 1]
            out = slices(*self.api_servers.get(context, []))
        result = Result(command, code, out, self.fail_output if code and self.fail else "")
        if check and code:
            raise CommandError(result)
        return result


def _gets(argv: tuple[str, ...], kind: str) -> bool:
    return "get" in argv and argv[argv.index("get") + 1 : argv.index("get") + 2] == (kind,)


def _context(argv: tuple[str, ...]) -> str:
    return argv[argv.index("--context") + 1].removeprefix("kind-") if "--context" in argv else ""


@dataclass
class Spoke:
    name: str
    health: str


class Hub:
    """A hub that sees spoke i as Ready from its `ready_after[i]`th poll on, answers only
    from its `answers_from`th poll on (unreachable until then; never if `unreachable`),
    and mints join tokens `kfjoin.<n>.<spoke>` (n counting every token it minted), noting
    ("mint", spoke) in `journal` when given (the provider's log, to see the order)."""

    def __init__(
        self,
        ready_after: dict[str, int],
        *,
        unreachable: bool = False,
        answers_from: int = 1,
        journal: list[tuple[str, ...]] | None = None,
    ) -> None:
        self.journal = journal
        self.ready_after = ready_after
        self.unreachable = unreachable
        self.answers_from = answers_from
        self.polls = 0
        self.closed = False
        self.made_with: tuple[str, str] | None = None
        self.minted: list[JoinToken] = []

    def __call__(self, url: str, token: str) -> Hub:
        self.made_with = (url, token)
        return self

    def spokes(self) -> list[Spoke]:
        from kindfleet.platform.client import HubUnavailable

        self.polls += 1
        if self.unreachable or self.polls < self.answers_from:
            raise HubUnavailable("cannot reach the hub: connection refused", status=0)
        return [
            Spoke(name, "Ready" if self.polls >= n else "NotReady")
            for name, n in self.ready_after.items()
            if self.polls >= min(n, 2)
        ]

    def join_token(self, spoke: str, *, ttl_seconds: float | None = None) -> JoinToken:
        token = JoinToken(
            spoke=spoke,
            token=f"kfjoin.{len(self.minted) + 1}.{spoke}",
            expires_at=datetime(2026, 1, 1, 13, 0, tzinfo=UTC),
        )
        self.minted.append(token)
        if self.journal is not None:
            self.journal.append(("mint", spoke))
        return token

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
