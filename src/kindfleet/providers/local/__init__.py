"""The embedded runtime: the hub and every spoke of a fleet as local processes.

No Docker, no Kubernetes: the same hub and agent programs that run in clusters run here
as background processes, so the platform can be developed, demonstrated and tested on
any machine. It never pretends otherwise: anything that needs Kubernetes (a kubeconfig,
loading an image) says so and points at the kind provider.

State lives in one directory per fleet (`$KINDFLEET_STATE_DIR/<fleet>`, by default
`~/.local/state/kindfleet/<fleet>`): tokens (0600), the hub's database, each agent's own
state directory, pid files and logs. `down` stops everything and removes it.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal

import psutil

from kindfleet import trees
from kindfleet.errors import KindfleetError, PrerequisiteError, UsageError
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.providers.base import (
    Availability,
    ClusterStatus,
    CreateOptions,
    HubAccess,
    NodeInfo,
    Provider,
    ProviderSettings,
)
from kindfleet.providers.local import link, processes
from kindfleet.providers.local.declared import DECLARED, agent_flags, differences, settings
from kindfleet.providers.local.declared import read as read_declared
from kindfleet.providers.local.faults import LocalFaults, LocalProbes
from kindfleet.providers.preflight import PreflightOptions, Report
from kindfleet.statedir import copy_private, ensure_token, fleet_dir, state_root, write_private

FAILED_LOGS = ".failed-logs"  # under the state root, beside the fleets
NOT_KUBERNETES = "provider local runs the hub and spokes as local processes: it is not Kubernetes"
NOT_KUBERNETES_HINT = "use provider: kind (or kindfleet up --provider kind) for real clusters"


class LocalLayout:
    """Where everything of one local fleet lives."""

    def __init__(self, fleet: str, root: Path | None = None) -> None:
        self.root = fleet_dir(fleet, root)

    @property
    def client_token(self) -> Path:
        return self.root / "tokens" / "client.token"

    @property
    def bootstrap_token(self) -> Path:
        return self.root / "tokens" / "bootstrap.token"

    def dir(self, cluster: str) -> Path:
        return self.root / "clusters" / cluster

    def pidfile(self, cluster: str) -> Path:
        return self.dir(cluster) / "pid"

    def logfile(self, cluster: str) -> Path:
        return self.dir(cluster) / "log"

    def kept_log(self, cluster: str) -> Path:
        """Where a cluster's log is kept when it failed to start: beside the fleet's state,
        not in it, since `up` removes what it began and failed (and the log with it)."""
        return self.root.parent / FAILED_LOGS / f"{self.root.name}-{cluster}.log"

    def keep_log(self, cluster: str) -> Path:
        """The log of a cluster that failed to start, copied where its removal leaves it;
        the original where no copy can be made."""
        log, kept = self.logfile(cluster), self.kept_log(cluster)
        try:
            kept.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            copy_private(log, kept)
        except OSError:
            return log
        return kept

    def port_file(self, hub: str) -> Path:
        return self.dir(hub) / "port"

    def hub_url(self, hub: str) -> str | None:
        try:
            port = int(self.port_file(hub).read_text().strip())
        except (OSError, ValueError):
            return None
        return f"http://127.0.0.1:{port}"

    def read_client_token(self) -> str:
        try:
            return self.client_token.read_text().strip()
        except OSError:
            raise UsageError(
                f"no local fleet state in {self.root}", hint="start the fleet with `kindfleet up`"
            ) from None


class LocalProvider(LocalFaults, LocalProbes, Provider):
    name: ClassVar[Literal["kind", "existing", "local"]] = "local"
    creates_hub_first: ClassVar[bool] = True  # spokes need the hub's address
    owns_clusters: ClassVar[bool] = True
    manages_kubeconfig: ClassVar[bool] = False
    runs_platform: ClassVar[bool] = True

    def __init__(
        self,
        root: Path | None = None,
        *,
        python: str = sys.executable,
        lost_after_seconds: float | None = None,
    ) -> None:
        self._root = root
        self._python = python
        self._lost_after = lost_after_seconds

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> LocalProvider:
        return cls(settings.state_dir)

    def layout(self, fleet: FleetSpec | str) -> LocalLayout:
        return LocalLayout(fleet if isinstance(fleet, str) else fleet.name, self._root)

    def availability(self) -> Availability:
        return Availability(True, versions={"python": sys.version.split()[0]})

    def preflight(self, fleet: FleetSpec, options: PreflightOptions) -> Report:
        """Nothing to check: the hub and agents are this Python, started as processes."""
        options.wanted(())  # an unknown --skip-check name is still a mistake to report
        return Report(versions={"python": sys.version.split()[0]})

    # -- lifecycle ---------------------------------------------------------

    def create(self, fleet: FleetSpec, cluster: Cluster, options: CreateOptions) -> None:
        layout = self.layout(fleet)
        if processes.running(layout.pidfile(cluster.name)):
            if cluster.role != "hub":  # faults (issue 12): a link proxy that died is repaired
                link.start(
                    self._python,
                    self.link_files(fleet, cluster.name),
                    layout.port_file(fleet.hub.name),
                )
            return  # already up: `up` is idempotent
        ensure_token(layout.client_token)
        if cluster.role == "hub":
            self._start_hub(layout, cluster, options.wait_seconds)
        else:
            self._start_spoke(layout, fleet, cluster, options.wait_seconds)

    def _start_hub(self, layout: LocalLayout, cluster: Cluster, wait: float) -> None:
        home = layout.dir(cluster.name)
        home.mkdir(parents=True, exist_ok=True)
        # A restarted hub takes its old port again: the spokes keep dialling that address.
        url = layout.hub_url(cluster.name)
        port = url.rsplit(":", 1)[1] if url else "0"
        argv = [
            self._python, "-m", "kindfleet.platform.hub",
            "--host", "127.0.0.1",
            "--port", port,
            "--port-file", str(layout.port_file(cluster.name)),
            "--store", f"sqlite:///{home / 'hub.db'}",
            "--client-token-file", str(layout.client_token),
        ]  # fmt: skip
        if self._lost_after is not None:
            argv += ["--lost-after-seconds", str(self._lost_after)]
        processes.spawn(
            argv, pidfile=layout.pidfile(cluster.name), logfile=layout.logfile(cluster.name)
        )
        self._wait(layout, cluster.name, wait, lambda: self._hub_ready(layout, cluster.name))

    def _start_spoke(
        self, layout: LocalLayout, fleet: FleetSpec, cluster: Cluster, wait: float
    ) -> None:
        url = layout.hub_url(fleet.hub.name)
        if url is None or not processes.running(layout.pidfile(fleet.hub.name)):
            raise KindfleetError(
                f"spoke {cluster.name} needs the hub {fleet.hub.name}, which is not running",
                hint="run `kindfleet up` for the whole fleet",
            )
        # --- hub (issue 9): each spoke joins with a join token of its own -------------
        token_file = layout.dir(cluster.name) / "join.token"
        _mint_join_token(url, layout.read_client_token(), cluster.name, token_file)
        # --- end hub (issue 9) ----------------------------------------------------
        # faults (issue 12): the agent dials the hub through its own link proxy
        via = link.start(
            self._python, self.link_files(fleet, cluster.name), layout.port_file(fleet.hub.name)
        )
        wanted = settings(cluster)
        argv = [
            self._python, "-m", "kindfleet.platform.agent",
            "--hub", via,
            "--name", cluster.name,
            "--state-dir", str(layout.dir(cluster.name) / "agent"),
            "--bootstrap-token-file", str(token_file),
            *agent_flags(wanted),
        ]  # fmt: skip
        write_private(layout.dir(cluster.name) / DECLARED, json.dumps(wanted))
        started = time.time()
        processes.spawn(
            argv, pidfile=layout.pidfile(cluster.name), logfile=layout.logfile(cluster.name)
        )
        self._wait(
            layout,
            cluster.name,
            wait,
            lambda: self._spoke_ready(layout, fleet, cluster.name, since=started),
        )

    def _wait(
        self,
        layout: LocalLayout,
        name: str,
        seconds: float,
        ready: Callable[[], bool],
        *,
        starting: bool = True,
    ) -> None:
        """Until `ready()`; a process still `starting` is stopped if it never gets there, a
        running spoke (rejoining its hub) never is: its runs go on."""
        deadline = time.monotonic() + seconds
        pidfile = layout.pidfile(name)
        log = layout.logfile(name)
        while time.monotonic() < deadline:
            if not processes.running(pidfile):
                how = "exited while starting" if starting else "exited"
                tail = processes.log_tail(log)
                kept = layout.keep_log(name) if starting else log
                raise KindfleetError(f"{name} {how}:\n{tail}", hint=f"full log: {kept}")
            if ready():
                return
            time.sleep(0.1)
        if starting:
            processes.stop(pidfile, grace_seconds=2)
            raise KindfleetError(
                f"{name} did not become ready within {seconds:g}s:\n{processes.log_tail(log)}",
                hint=f"full log: {layout.keep_log(name)}",
            )
        raise KindfleetError(
            f"{name} runs, but is not ready in the hub's eyes within {seconds:.0f}s; what it "
            f"says:\n{processes.log_tail(log)}",
            hint=f"its runs go on; full log: {log}",
        )

    def wait_rejoined(self, fleet: FleetSpec, cluster: Cluster, timeout: float) -> str:
        """A spoke that runs and that the hub does not hear (left running while its hub was
        down; frozen; its link to the hub gone): Ready again once the hub hears it, its
        link started again if it died. A hub that runs and does not answer: once it does.
        Never stopped here: its runs go on whatever the hub says. `up` said such a spoke
        was "repaired" while nothing was done or checked."""
        layout = self.layout(fleet)
        if cluster.role == "hub":
            self._wait(
                layout, cluster.name, timeout, partial(self._hub_ready, layout, cluster.name),
                starting=False,
            )  # fmt: skip
            return "ready again"
        link.start(
            self._python, self.link_files(fleet, cluster.name), layout.port_file(fleet.hub.name)
        )
        self._held(fleet, layout, cluster.name)
        ready = partial(self._spoke_ready, layout, fleet, cluster.name)
        self._wait(layout, cluster.name, timeout, ready, starting=False)
        return "Ready again in the hub's eyes; its runs went on"

    def _held(self, fleet: FleetSpec, layout: LocalLayout, name: str) -> None:
        """A spoke that cannot be heard until something is undone: said at once, with how
        to undo it, not after `up` waited its whole `--wait` for it (a drill's fault, or a
        frozen process)."""
        clear = f"`kindfleet fault clear -f {fleet.source or 'FILE'}`"
        if self.link_state(fleet, name).mode == "partition":
            raise KindfleetError(f"{name} is cut off from the hub by a partition fault: {clear}")
        handle = processes.running(layout.pidfile(name))
        if handle is not None and processes.stopped(handle):
            raise KindfleetError(
                f"{name} runs but is stopped (SIGSTOP): {clear} ends a pause fault, "
                f"`kill -CONT {handle.pid}` any other stop"
            )

    def _hub_ready(self, layout: LocalLayout, hub: str) -> bool:
        from kindfleet.platform.client import HubClient

        url = layout.hub_url(hub)
        if url is None:
            return False
        with HubClient(url, layout.read_client_token(), timeout=2) as client:
            return client.ready()

    def _spoke_ready(
        self, layout: LocalLayout, fleet: FleetSpec, name: str, *, since: float = 0.0
    ) -> bool:
        """Ready in the hub's eyes; with `since`, by a heartbeat of an agent started then
        (a restarted spoke is not ready on its killed predecessor's lease)."""
        from kindfleet.platform.client import HubClient

        url = layout.hub_url(fleet.hub.name)
        if url is None:
            return False
        with HubClient(url, layout.read_client_token(), timeout=2) as client:
            try:
                spokes = client.spokes()
            except KindfleetError:
                return False
        return any(
            s.name == name
            and s.health == "Ready"
            and s.last_heartbeat is not None
            and s.last_heartbeat.timestamp() >= since
            for s in spokes
        )

    def delete(self, fleet: FleetSpec, cluster: str) -> None:
        layout = self.layout(fleet)
        processes.stop(layout.pidfile(cluster))
        link.stop(self.link_files(fleet, cluster))  # faults (issue 12): the spoke's link
        if cluster != fleet.hub.name and (layout.dir(cluster) / "agent").is_dir():
            # A run whose agent was killed earlier (a drill) may have left a grandchild.
            state = layout.dir(cluster) / "agent"
            try:
                processes.spokectl(self._python, "reap", "--state-dir", str(state))
            except UsageError:
                # Down deletes clusters in parallel and the hub's delete also takes its
                # spokes: the other deleter may have removed the directory meanwhile.
                if state.is_dir():
                    raise
        others = self.strays(fleet)
        if cluster == fleet.hub.name or not any(
            processes.running(layout.pidfile(name))
            for name in [*(c.name for c in fleet.clusters), *others]
        ):
            # The hub owns the fleet's data; with it gone (or nothing left) remove it all,
            # and first stop what runs in it, named in this fleet file or not: a process
            # whose state is removed under it would be out of reach.
            if cluster == fleet.hub.name:
                for spoke in [*(s.name for s in fleet.spokes), *others]:
                    self.delete(fleet, spoke)
            _discard(layout.root)
        else:
            _discard(layout.dir(cluster))

    def tidy(self, fleet: FleetSpec) -> list[str]:
        """Once the whole fleet is down: what no pid file leads to any more is stopped (a
        `down` killed half-way left link proxies running and the fleet's data in place, and
        the next `down` said "0 clusters deleted"; a hub whose state directory was removed
        ran on, out of sight), and the fleet's state goes."""
        layout = self.layout(fleet)
        done = []
        left = processes.left_in(layout.root)
        if left:
            processes.stop_all(left)
            done.append(f"{len(left)} process(es) of the fleet that no pid file named")
        if layout.root.exists():
            _discard(layout.root)
            done.append(f"the fleet's state ({layout.root})")
        return done

    def has_data(self, fleet: FleetSpec, cluster: Cluster) -> bool:
        """A hub's store or a spoke's journal is there: a stopped one is started again."""
        return self.layout(fleet).dir(cluster.name).is_dir()

    def list_clusters(self, fleet: FleetSpec) -> list[str]:
        layout = self.layout(fleet)
        return [c.name for c in fleet.clusters if processes.running(layout.pidfile(c.name))]

    def strays(self, fleet: FleetSpec) -> list[str]:
        """What runs in this fleet's state and its file does not name: a spoke removed from
        the file since `up`, or brought up from another fleet file with the same name (the
        state is the fleet's, by name). Only running ones: a stopped one's data goes with
        the fleet's."""
        layout = self.layout(fleet)
        named = {c.name for c in fleet.clusters}
        try:
            found = [p.name for p in (layout.root / "clusters").iterdir()]
        except OSError:  # no fleet state (yet, or any more)
            return []
        return sorted(
            name
            for name in found
            if name not in named
            and not name.startswith(".")  # what a removal left aside (`_discard`)
            and processes.running(layout.pidfile(name))
        )

    def status(self, fleet: FleetSpec, cluster: Cluster) -> ClusterStatus:
        layout = self.layout(fleet)
        handle = processes.running(layout.pidfile(cluster.name))
        url = layout.hub_url(fleet.hub.name)
        if handle is None:
            return ClusterStatus(
                cluster.name, cluster.role, exists=False, ready=False, message="not running"
            )
        running = _running_settings(layout, cluster)
        node = NodeInfo(
            name=f"pid {handle.pid}",
            role=cluster.role,
            labels=dict(running["labels"] if running else cluster.labels),
            memory_bytes=processes.rss_bytes(handle),
            address=url if cluster.role == "hub" else None,
        )
        message = "process (not Kubernetes)"
        if cluster.role == "hub":
            ready = self._hub_ready(layout, cluster.name)
        else:
            ready = self._spoke_ready(layout, fleet, cluster.name)
            way = self.link_state(fleet, cluster.name)  # faults (issue 12)
            if way.mode != "pass" or not way.running:
                message += f"; link to the hub: {way.mode if way.running else 'down'}"
        node = NodeInfo(**{**node.__dict__, "ready": ready})
        drift = differences(running, settings(cluster)) if running else ""
        if drift:
            message += f"; {drift}"
        return ClusterStatus(
            cluster.name,
            cluster.role,
            exists=True,
            ready=ready,
            endpoint=url,
            nodes=(node,),
            message=message,
            drift=drift,
        )

    # -- what only Kubernetes has -----------------------------------------

    def kubeconfig(self, fleet: FleetSpec, cluster: str, *, internal: bool = False) -> str:
        raise UsageError(f"{NOT_KUBERNETES}: there is no kubeconfig", hint=NOT_KUBERNETES_HINT)

    def load_image(self, fleet: FleetSpec, cluster: str, image: str) -> None:
        raise UsageError(f"{NOT_KUBERNETES}: it runs no images", hint=NOT_KUBERNETES_HINT)

    def nodes(self, fleet: FleetSpec, cluster: str) -> list[NodeInfo]:
        return list(self.status(fleet, fleet.cluster(cluster)).nodes)

    # -- the platform it runs ---------------------------------------------

    def hub_access(self, fleet: FleetSpec) -> HubAccess:
        layout = self.layout(fleet)
        return HubAccess(require_running_hub(layout, fleet), layout.read_client_token())

    def run_logs(
        self, fleet: FleetSpec, spoke: Cluster, workload: str, generation: int, stream: str
    ) -> str:
        """Asked of the spoke's own agent state through `spokectl`, which reads only plain
        files inside the run's directory."""
        return processes.spokectl(
            self._python, *self._log_args(fleet, spoke, workload, generation, stream)
        )

    def follow_logs(
        self,
        fleet: FleetSpec,
        spoke: Cluster,
        workload: str,
        generation: int,
        stream: str,
        *,
        tail: int | None,
        running: Callable[[], bool],
    ) -> None:
        """`spokectl logs --follow`, told to finish (its stdin closed) once the run ended."""
        args = self._log_args(fleet, spoke, workload, generation, stream)
        if tail is not None:
            args += ["--tail", str(tail)]
        processes.spokectl_follow(self._python, *args, running=running)

    def _log_args(
        self, fleet: FleetSpec, spoke: Cluster, workload: str, generation: int, stream: str
    ) -> list[str]:
        """`spokectl logs` of one run, in the spoke's own agent state."""
        state = self.layout(fleet).dir(spoke.name) / "agent"
        return [
            "logs", "--state-dir", str(state), "--workload", workload,
            "--generation", str(generation), "--stream", stream,
        ]  # fmt: skip

    def export_logs(self, fleet: FleetSpec, cluster: Cluster, directory: Path) -> list[str]:
        """The hub's or the agent's process log, as it is now."""
        source = self.layout(fleet).logfile(cluster.name)
        role = "hub" if cluster.role == "hub" else "agent"
        directory.mkdir(parents=True, exist_ok=True)
        try:
            copy_private(source, directory / f"{role}.log")
        except OSError as exc:
            return [f"{role} log {source}: {exc.strerror or exc}"]
        return []


# --- hub (issue 9) ------------------------------------------------------------------
def _mint_join_token(hub_url: str, client_token: str, spoke: str, path: Path) -> None:
    """A join token for `spoke` (single use, expiring), minted through the hub's API with
    the client token, into the spoke's own token file (0600) before its agent starts."""
    from kindfleet.platform.client import HubClient

    with HubClient(hub_url, client_token, timeout=10) as client:
        token = client.join_token(spoke)
    write_private(path, token.token + "\n")


# --- end hub (issue 9) --------------------------------------------------------------


def _running_settings(layout: LocalLayout, cluster: Cluster) -> dict[str, Any] | None:
    """What a spoke's agent was started with (None for the hub, or when not kept)."""
    if cluster.role == "hub":
        return None
    return read_declared(layout.dir(cluster.name))


def require_running_hub(layout: LocalLayout, fleet: FleetSpec) -> str:
    url = layout.hub_url(fleet.hub.name)
    if url is None or not processes.running(layout.pidfile(fleet.hub.name)):
        # The commands act on the state where this fleet's is: another (a test session's,
        # a demo's) is named, or following the hint would act on the user's default one.
        where = "" if layout.root.parent == state_root() else (
            f"KINDFLEET_STATE_DIR={shlex.quote(str(layout.root.parent))} "
        )  # fmt: skip
        file = fleet.source or "FILE"
        raise PrerequisiteError(
            f"the hub of local fleet {fleet.name!r} is not running",
            hint=f"start it with `{where}kindfleet up -f {file}`; one a fault stopped, with "
            f"`{where}kindfleet fault clear -f {file}`",
        )
    return url


def _discard(path: Path) -> None:
    """Remove a directory tree once, however many deleters reach it at the same time: down
    deletes clusters in parallel and the hub's delete takes its spokes (and the fleet's
    root) too, so several threads walked the same tree of run directories, each unlinking
    what another had just unlinked (7.1 s to take down a fleet after 10,000 runs; 3.1 s
    now). The first to rename it aside removes it; the others find nothing to rename. What
    a down killed midway left aside is removed by the next one."""
    aside = path.with_name(f".{path.name}.deleting-{os.getpid()}-{threading.get_ident()}")
    try:
        path.rename(aside)
        trees.remove(aside)  # runs' trees included, however they left them
    except FileNotFoundError:
        pass  # another deleter has it
    except OSError:  # not renameable (a mount point): removed where it is
        trees.remove(path)
    for left in path.parent.glob(f".{path.name}.deleting-*-*"):
        pid = left.name.rsplit("-", 2)[1]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):  # ours, and its down is gone
            trees.remove(left)
