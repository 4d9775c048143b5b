"""The session's one big fleet, shaped like the article's: a hub and three spokes, brought
up once by kindfleet in parallel and shared by every test that only reads it (creating it
again per test would prove nothing more and cost a minute each).

- the hub: three control planes behind kind's load balancer (HA), and a `plane=management`
  worker publishing the hub's NodePort 30080 on the host;
- `gpu`: Calico, a control plane and a worker with 2 simulated GPUs;
- `cpu`: Calico, one control plane;
- `edge`: kind's default CNI (kindnet), one control plane;
- the fleet's registry.

While the clusters are being created, the user's kubeconfig is locked by "someone else"
(as kubectl or another kind would) for a while: kind#1425's race, which kindfleet must
not lose to (each `kind create` writes a kubeconfig of its own; contexts are merged
after, one writer at a time, waiting for the lock).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.kindreal.fleets import NOT_HERE, KindfleetEnv, free_port
from tests.integration.kindreal.harness import PREFIX

from kindfleet import Fleet
from kindfleet.exec import Command, ProcessRunner, Result
from kindfleet.lifecycle import UpResult
from kindfleet.lifecycle.events import Event

NAME = f"{PREFIX}a"
HUB, GPU, CPU, EDGE = f"{NAME}-hub", f"{NAME}-gpu", f"{NAME}-cpu", f"{NAME}-edge"
LOCK_HOLD_SECONDS = 3.0

TEXT = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: {name}
nodeImage: {node_image}
registry: {{hostPort: {registry_port}, image: {registry_image}}}
hub:
  labels: {{cluster-role: hub}}
  nodes:
    - {{role: control-plane, count: 3}}
    - role: worker
      labels: {{plane: management}}
      portMappings: [{{containerPort: 30080, hostPort: {hub_port}, listenAddress: 127.0.0.1}}]
spokes:
  - name: {name}-gpu
    labels: {{cluster-role: spoke, workload-type: compute-intensive, gpu: "true"}}
    networking: {{cni: calico}}
    nodes:
      - role: control-plane
      - {{role: worker, labels: {{gpu: "true"}}, gpus: 2}}
  - name: {name}-cpu
    labels: {{cluster-role: spoke, workload-type: general}}
    networking: {{cni: calico}}
    nodes: [{{role: control-plane}}]
  - name: {name}-edge
    labels: {{cluster-role: spoke, workload-type: edge}}
    nodes: [{{role: control-plane}}]
"""


class Recording:
    """The process runner, keeping every command it ran (what kindfleet asked of kind)."""

    def __init__(self, runner: ProcessRunner) -> None:
        self.runner = runner
        self.commands: list[Command] = []
        self._lock = threading.Lock()

    def run(self, command: Command, *, check: bool = True) -> Result:
        with self._lock:
            self.commands.append(command)
        return self.runner.run(command, check=check)


@dataclass
class Article:
    env: KindfleetEnv
    path: Path
    kubeconfig: Path
    hub_port: int
    registry_port: int
    recording: Recording
    result: UpResult | None = None
    error: BaseException | None = None
    events: list[tuple[float, Event]] = field(default_factory=list)
    lock_window: tuple[float, float] | None = None

    def fleet(self) -> Fleet:
        return self.env.fleet(self.path)

    def kind_creates(self) -> list[Command]:
        return [c for c in self.recording.commands if c.argv[:3] == ("kind", "create", "cluster")]


def _hold_lock(article: Article, started: float, merging: threading.Event) -> None:
    """Hold `<kubeconfig>.lock` as another writer would: from the first cluster created
    until LOCK_HOLD_SECONDS after the first merge began (so that merge had to wait)."""
    lock = article.kubeconfig.with_name(article.kubeconfig.name + ".lock")
    article.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    taken = time.monotonic() - started
    merging.wait(600)
    time.sleep(LOCK_HOLD_SECONDS)
    lock.unlink()
    article.lock_window = (taken, time.monotonic() - started)


def bring_up(env: KindfleetEnv) -> Article:
    hub_port, registry_port = free_port(), free_port()
    text = TEXT.format(name=NAME, node_image=env.kind.node_image, registry_port=registry_port,
                       registry_image=env.registry_image, hub_port=hub_port)  # fmt: skip
    path = env.write(NAME, text)
    recording = Recording(ProcessRunner(env=env.env))
    article = Article(env, path, env.base / "kube" / "config", hub_port, registry_port, recording)
    fleet = Fleet.from_path(path, runner=recording, env=env.env, state_dir=env.state)
    started = time.monotonic()
    holder: list[threading.Thread] = []

    merging = threading.Event()

    def progress(event: Event) -> None:
        article.events.append((time.monotonic() - started, event))
        if event.step == "creating" and event.phase == "done" and not holder:
            holder.append(threading.Thread(target=_hold_lock, args=(article, started, merging)))
            holder[0].start()
        if event.step == "merging kubeconfig" and event.phase == "start":
            merging.set()

    try:
        article.result = fleet.up(kubeconfig=article.kubeconfig, calico_manifest=str(env.calico),
                                  skip_checks=NOT_HERE, progress=progress)  # fmt: skip
    except Exception as exc:  # the tests say what failed; the fixture still tears down
        article.error = exc
    merging.set()  # a failed up merges nothing: let the holder go
    for thread in holder:
        thread.join()
    return article
