"""`Fleet`: the one object scripts, tests and the CLI drive a fleet through.

It holds the resolved spec and offers every operation on it; the CLI is a thin layer of
flags over these methods, so whatever the CLI can do a Python caller can do too:

    fleet = kindfleet.load_fleet("fleet.yaml")
    fleet.up(kubeconfig="ci.kubeconfig")      # UpResult; PartialFailure names failed clusters
    fleet.status()                            # FleetStatus: clusters, nodes, registry
    fleet.deploy()                            # DeployResult: the platform on the clusters
    with fleet.hub() as hub: hub.submit(...)  # the platform's API (HubClient)
    fleet.down(kubeconfig="ci.kubeconfig")

The provider is chosen once: the fleet file's, or the one given to `load_fleet` /
`Fleet.from_path` (the article's KIND fleet as local processes: `provider="local"`).

Nothing here prints or touches a kubeconfig file the caller did not name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kindfleet import access, faults, fleetrecord, lifecycle, workloadfile
from kindfleet import deploy as deployment
from kindfleet import fleetspec as fleet_spec
from kindfleet import kubeconfig as kc
from kindfleet.checks.model import CheckReport, CheckResult
from kindfleet.deploy import manifests as manifests_of
from kindfleet.deploy import state as deploy_state
from kindfleet.errors import KindfleetError, UsageError, writing
from kindfleet.exec import ProcessRunner, Runner
from kindfleet.faults import FaultRecord
from kindfleet.fleetspec.internal import FleetSpec
from kindfleet.fleetspec.k8snames import dns_label
from kindfleet.fleetspec.load import read_path
from kindfleet.lifecycle import fleetlock
from kindfleet.lifecycle.context import Interruptible
from kindfleet.lifecycle.events import Reporter, ignore
from kindfleet.lifecycle.timings import MemoryPeaks, Recorder
from kindfleet.load import LoadOptions, LoadResult, Progress
from kindfleet.platform.client import HubClient
from kindfleet.platform.wire import MAX_BATCH, MAX_BODY, BatchItem, SubmitResponse, WorkloadSpec
from kindfleet.providers.base import (
    FaultAction,
    FaultSpec,
    ProbesSpokes,
    Provider,
    ProviderSettings,
    traits,
)
from kindfleet.providers.detect import get_provider
from kindfleet.render import kindconfig
from kindfleet.statedir import fleet_dir, replace_text, state_root

REPORT_TIMEOUT = 2.0  # telling the hub of faults must not hold up a fault command


class Fleet:
    def __init__(
        self,
        spec: FleetSpec,
        *,
        provider: Provider | None = None,
        runner: Runner | None = None,
        env: Mapping[str, str] | None = None,
        state_dir: str | Path | None = None,
    ) -> None:
        """`provider`, `runner`, `env`: injected by tests; by default the fleet file's
        provider, a process runner, and this process's environment. `state_dir`: where
        kindfleet keeps what it remembers of fleets (default $KINDFLEET_STATE_DIR, else
        ~/.local/state/kindfleet)."""
        self.spec = spec
        self.runner: Runner = runner or ProcessRunner()
        self.env = dict(os.environ if env is None else env)
        self.state_dir = Path(state_dir) if state_dir else None
        self._provider = provider
        # The file it was read from, the provider asked for instead of the file's, and the
        # bytes read: kept at `up` (fleetrecord.py), for a `down` after the file is gone.
        self.source: tuple[Path, str | None, bytes] | None = None

    @classmethod
    def from_path(cls, path: str | Path, *, provider: str | None = None, **kwargs: Any) -> Fleet:
        """`provider`: run the file's fleet with this provider instead of its own."""
        spec, data = read_path(path, provider=provider)
        fleet = cls(spec, **kwargs)
        fleet.source = (Path(path), provider, data)
        return fleet

    @classmethod
    def from_record(cls, name: str, *, state_dir: str | Path | None = None, **kwargs: Any) -> Fleet:
        """The fleet `name` as it was brought up: from its file as it was then (kept in
        its state directory), wherever that file is now, and whatever it says now."""
        root = Path(state_dir) if state_dir else None
        if (problem := dns_label(name)) is not None:
            raise UsageError(f"--name: {problem}", hint="give the name of a fleet (its `name:`)")
        by_file = "take it down from its file (-f), or its clusters with `kind delete cluster`"
        try:
            kept = fleetrecord.recorded(name, root)
        except fleetrecord.Unreadable as exc:
            raise UsageError(
                f"the file kept for fleet {name!r} at its `up` ({fleetrecord.where(name, root)}) "
                f"cannot be read: {exc}",
                hint=by_file,
            ) from None
        if kept is None:
            others = [n for n in fleetrecord.names(root) if n != name]
            raise UsageError(
                f"no fleet {name!r} was brought up with this state directory "
                f"({root or state_root()})",
                hint=(f"fleets that were: {', '.join(others)}; " if others else "")
                + (
                    "its state directory is there: an `up` of it may still be under way "
                    "(try again once it ends), or an older kindfleet brought it up: "
                    if fleet_dir(name, root).is_dir()
                    else ""
                )
                + by_file,
            )
        spec = fleet_spec.from_text(
            kept.data,
            source=f"{kept.path} (as it was at `up`)",
            base_dir=kept.path.parent,
            provider=kept.provider,
        )
        if spec.name != name:
            raise UsageError(
                f"the file kept for fleet {name!r} at its `up` is fleet {spec.name!r}'s "
                f"({fleetrecord.where(name, root)} was changed by hand?)",
                hint=by_file,
            )
        return cls(spec, state_dir=state_dir, **kwargs)

    @classmethod
    def from_text(
        cls, text: str, *, source: str = "<fleet>", provider: str | None = None, **kwargs: Any
    ) -> Fleet:
        return cls(fleet_spec.from_text(text, source=source, provider=provider), **kwargs)

    @property
    def name(self) -> str:
        return self.spec.name

    def kind_configs(self, cluster: str | None = None) -> dict[str, dict[str, Any]]:
        """KIND configs by cluster name (hub first), or only `cluster`'s."""
        return kindconfig.render_fleet(self.spec, cluster)

    def write_kind_configs(self, directory: str | Path, cluster: str | None = None) -> list[Path]:
        """One `<cluster>.yaml` per cluster in `directory`; returns the files written."""
        out = Path(directory)
        written = []
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name, config in self.kind_configs(cluster).items():
                path = out / f"{name}.yaml"
                with writing(path):
                    replace_text(path, kindconfig.to_yaml(config))
                written.append(path)
        except FileExistsError:
            raise UsageError(
                f"{out} is not a directory",
                hint="--out takes a directory (one <cluster>.yaml each); for one file: "
                f"kindfleet render -c NAME > {out}",
            ) from None
        except OSError as exc:
            raise UsageError(
                f"cannot write the configs to {out}: {exc.strerror or exc}",
                hint="choose a directory you can write to",
            ) from None
        return written

    # -- clusters -----------------------------------------------------------------

    def provider(self, kubeconfig: str | Path | None = None) -> Provider:
        """The provider that runs this fleet (`kubeconfig`: where `existing` finds contexts)."""
        if self._provider is not None:
            return self._provider
        settings = ProviderSettings(
            runner=self.runner,
            kubeconfig=Path(kubeconfig) if kubeconfig else None,
            env=self.env,
            state_dir=self.state_dir,
        )
        return get_provider(self.spec, settings)

    def _interrupter(self) -> Interruptible | None:
        runner = self.runner
        return runner if isinstance(runner, ProcessRunner) else None

    def up(
        self,
        *,
        parallel: int = 4,
        kubeconfig: str | Path | None = None,
        wait: float = 300.0,
        retain: bool = False,
        preflight: bool = True,
        skip_checks: Iterable[str] = (),
        calico_manifest: str | None = None,
        preload_images: bool = True,
        clusters: Sequence[str] | None = None,
        switch_context: bool = True,
        logs_dir: str | Path | None = None,
        timings: bool = False,
        progress: Reporter = ignore,
    ) -> lifecycle.UpResult:
        """Create what is missing, keep what is healthy, repair what is not; in parallel.

        `kubeconfig`: the file to merge contexts into (None: none; the CLI passes
        --kubeconfig, else $KUBECONFIG's first existing file, else ~/.kube/config).
        `preload_images`: pull Calico's images once here and load them into the nodes
        (the nodes pull them themselves when this machine cannot). `logs_dir`: a cluster
        whose creation fails has its logs collected under `<logs_dir>/<cluster>` before
        it is removed (`kind export logs`, as kind's CI does). `timings`: the result's
        `timings` holds each cluster's and step's duration and its nodes' peak memory. Raises
        `PrerequisiteError` (preflight), `PartialFailure` (some clusters failed, the rest
        are up) or `ClustersFailed`; both failures carry `.result` and `.failed`.
        """
        if parallel < 1:  # the Python API's words, with the CLI flag they come from
            raise UsageError(f"parallel (--parallel) is {parallel}: it must be at least 1")
        if not wait > 0:  # a negative wait started the fleet, then failed it as never ready
            raise UsageError(
                f"wait (--wait) is {wait}: give the seconds to wait for readiness, above 0"
            )
        path = Path(kubeconfig) if kubeconfig else None
        options = lifecycle.UpOptions(
            parallel=parallel,
            kubeconfig=path,
            wait_seconds=wait,
            retain=retain,
            preflight=preflight,
            skip_checks=frozenset(skip_checks),
            calico_manifest=calico_manifest,
            preload_images=preload_images,
            clusters=tuple(clusters) if clusters else None,
            switch_context=switch_context,
            logs_dir=Path(logs_dir) if logs_dir else None,
        )
        provider = self.provider(path)
        recorder = Recorder(progress)
        names = [c.name for c in lifecycle.up_selected(self.spec, options.clusters)]
        peaks = MemoryPeaks(lambda: self._memory(provider, names))
        measuring = peaks if timings else contextlib.nullcontext()
        with fleetlock.hold(self.name, "up", self.state_dir), measuring:
            if self.source is not None:  # kept first: an `up` that fails half way too
                with contextlib.suppress(OSError):
                    fleetrecord.record(self.name, *self.source, self.state_dir)
            result = lifecycle.up(
                self.spec,
                provider,
                options,
                report=recorder if timings else progress,
                interrupter=self._interrupter(),
            )
        if timings:
            result = replace(result, timings=recorder.timings(peaks.peaks))
        recorded = deploy_state.load_deployed(self.spec, self.state_dir)
        if recorded is None or self.spec.hub not in lifecycle.up_selected(
            self.spec, options.clusters
        ):
            return result
        hub = {self.spec.hub.name: provider.status(self.spec, self.spec.hub)}
        moved = deployment.hub_moved(self.spec, hub, self.state_dir)
        return replace(result, warnings=(*result.warnings, moved)) if moved else result

    def status(
        self, *, clusters: Sequence[str] | None = None, kubeconfig: str | Path | None = None
    ) -> lifecycle.FleetStatus:
        """Every cluster (or those named) as it is; `warnings` says what needs doing, such
        as a hub that moved since the platform was deployed."""
        state = lifecycle.status(self.spec, self.provider(kubeconfig), clusters=clusters)
        moved = deployment.hub_moved(self.spec, {c.name: c for c in state.clusters}, self.state_dir)
        return replace(state, warnings=(*state.warnings, moved)) if moved else state

    def down(
        self,
        *,
        cluster: str | None = None,
        kubeconfig: str | Path | None = None,
        parallel: int = 8,
        timings: bool = False,
        progress: Reporter = ignore,
    ) -> lifecycle.DownResult:
        """Remove the fleet (or one cluster), its kubeconfig entries in `kubeconfig`, and,
        for the whole fleet, its registry. Clusters of provider existing are left alone.
        `timings`: the result's `timings` holds each cluster's and step's duration."""
        path = Path(kubeconfig) if kubeconfig else None
        options = lifecycle.DownOptions(
            parallel=max(1, parallel), kubeconfig=path, clusters=(cluster,) if cluster else None
        )
        provider = self.provider(path)
        going = (
            [self.spec.cluster(cluster).name] if cluster else [c.name for c in self.spec.clusters]
        )
        recorder = Recorder(progress)
        with fleetlock.hold(self.name, "down", self.state_dir):
            faults.clear_for_down(self.spec, provider, self._faultbook(), going)
            result = lifecycle.down(
                self.spec, provider, options, report=recorder if timings else progress
            )
            if cluster is None:  # the whole fleet is down: nothing is left to take down
                fleetrecord.forget(self.name, self.state_dir)
        return replace(result, timings=recorder.timings()) if timings else result

    def _memory(self, provider: Provider, names: Sequence[str]) -> dict[str, int]:
        """The resident memory of each named cluster's nodes (what `status` shows);
        a cluster that cannot be asked now is left out."""
        found = {}
        for name in names:
            try:
                nodes = provider.nodes(self.spec, name)
            except KindfleetError:
                continue
            found[name] = sum(n.memory_bytes or 0 for n in nodes)
        return found

    # -- faults ---------------------------------------------------------------------

    def _faultbook(self) -> faults.FaultBook:
        return faults.FaultBook(fleet_dir(self.spec.name, self.state_dir))

    def fault(
        self,
        action: FaultAction | str,
        cluster: str,
        *,
        duration: float | None = None,
        latency_ms: int = 200,
        loss_percent: float = 0.0,
        kubeconfig: str | Path | None = None,
    ) -> FaultRecord:
        """Inject a fault into one cluster (stop, pause, kill, partition, slow) and record
        it; it stays until `clear_faults` (or `hold_fault`, when `duration` is given).
        Raises `FaultRefused` (exit 2) when the provider cannot do it to that cluster or
        the cluster already has a fault."""
        spec = FaultSpec(action, cluster, latency_ms, loss_percent)  # type: ignore[arg-type]
        provider = self.provider(kubeconfig)
        record = faults.inject(self.spec, provider, self._faultbook(), spec, duration=duration)
        self.report_faults(kubeconfig=kubeconfig)
        return record

    def fault_refusal(
        self, action: str, cluster: str, *, kubeconfig: str | Path | None = None
    ) -> str | None:
        """Why `action` cannot be done to `cluster` on this fleet's provider, or None."""
        spec = FaultSpec(action, faults.target(self.spec, cluster).name)  # type: ignore[arg-type]
        return faults.refusal(self.spec, self.provider(kubeconfig), spec)

    def faults(self, *, live: bool = False) -> list[FaultRecord]:
        """The fleet's fault records, oldest first (`live`: only those not cleared); a fault
        whose effect something else undid (`up` started a killed cluster again) is cleared."""
        book = self._faultbook()
        faults.settle(self.spec, self.provider(), book)
        return book.live() if live else book.read()

    def clear_faults(
        self, ids: Sequence[str] | None = None, *, kubeconfig: str | Path | None = None
    ) -> list[FaultRecord]:
        """Undo the faults named (None: every live one); returns those cleared."""
        provider = self.provider(kubeconfig)
        cleared = faults.clear(self.spec, provider, self._faultbook(), ids)
        self.report_faults(kubeconfig=kubeconfig)
        return cleared

    def hold_fault(
        self, record: FaultRecord, *, kubeconfig: str | Path | None = None
    ) -> FaultRecord | None:
        """Block until a fault injected with a `duration` is due, then clear it (at once
        on KeyboardInterrupt). None when another command cleared it first."""
        provider = self.provider(kubeconfig)
        try:
            return faults.hold(self.spec, provider, self._faultbook(), record)
        finally:
            self.report_faults(kubeconfig=kubeconfig)

    def report_faults(self, *, kubeconfig: str | Path | None = None) -> bool:
        """Tell the fleet's hub every fault record, for its dashboard (best effort: False
        when the hub cannot be reached now, e.g. the fault paused it or no platform is
        deployed; the next fault command, or `kindfleet dashboard`, tells it again)."""
        try:
            note = faults.report(self.spec.name, self._faultbook().read())
            provider = self.provider(kubeconfig)
            client = access.hub_client(
                self.spec, provider, state_root=self.state_dir, timeout=REPORT_TIMEOUT
            )
            with client:
                client.report_faults(note)
        except KindfleetError:
            return False
        return True

    @contextlib.contextmanager
    def faulted(
        self,
        action: FaultAction | str,
        cluster: str,
        *,
        latency_ms: int = 200,
        loss_percent: float = 0.0,
        kubeconfig: str | Path | None = None,
    ) -> Iterator[FaultRecord]:
        """A fault for the length of a `with` block, cleared however the block ends:

        with fleet.faulted("partition", "spoke-a"):
            ...  # the hub cannot hear spoke-a here
        """
        record = self.fault(
            action,
            cluster,
            latency_ms=latency_ms,
            loss_percent=loss_percent,
            kubeconfig=kubeconfig,
        )
        try:
            yield record
        finally:
            if any(r.id == record.id for r in self.faults(live=True)):
                self.clear_faults([record.id], kubeconfig=kubeconfig)

    # -- the platform ---------------------------------------------------------------

    def deploy(
        self,
        *,
        image: str | None = None,
        build_context: str | Path | None = None,
        build_args: Mapping[str, str] | None = None,
        tag: str | None = None,
        hub_url: str | None = None,
        kubeconfig: str | Path | None = None,
        dry_run: bool = False,
        wait: bool = True,
        wait_seconds: float = 300.0,
        parallel: int = 4,
        progress: Reporter = ignore,
    ) -> deployment.DeployResult:
        """Put the hub-spoke platform on the fleet's clusters (hub first, then every spoke).

        `image`: a prebuilt image (else one is built from `build_context`, by default this
        installation's source tree, and pushed to the fleet's registry or `kind load`ed).
        `hub_url`: how spokes reach the hub (required for provider existing). `dry_run`:
        look, render and validate only. Raises `PartialFailure` (exit 4) when some spokes
        failed, with `.result`.
        """
        options = deployment.DeployOptions(
            image=image,
            build_context=Path(build_context) if build_context else None,
            build_args=dict(build_args or {}),
            tag=tag,
            hub_url=hub_url,
            dry_run=dry_run,
            wait=wait,
            wait_seconds=wait_seconds,
            parallel=parallel,
        )
        path = Path(kubeconfig) if kubeconfig else None
        with fleetlock.hold(self.name, "deploy --dry-run" if dry_run else "deploy", self.state_dir):
            result = deployment.deploy(
                self.spec,
                self.provider(path),
                options,
                runner=self.runner,
                report=progress,
                state_root=self.state_dir,
                interrupter=self._interrupter(),
            )
        return replace(result, manifests=deployment.redact_all(result.manifests))

    def rewire(
        self,
        *,
        kubeconfig: str | Path | None = None,
        wait: bool = True,
        wait_seconds: float = 300.0,
        parallel: int = 4,
        progress: Reporter = ignore,
    ) -> deployment.DeployResult:
        """Point the spokes at the hub where it is now (after a Docker restart moved it):
        their orchestrators' `--hub` and NetworkPolicy, with the image deploy recorded;
        nothing is built, pushed or loaded, the hub is left alone."""
        path = Path(kubeconfig) if kubeconfig else None
        with fleetlock.hold(self.name, "rewire", self.state_dir):
            result = deployment.rewire(
                self.spec,
                self.provider(path),
                runner=self.runner,
                wait=wait,
                wait_seconds=wait_seconds,
                parallel=parallel,
                report=progress,
                state_root=self.state_dir,
                interrupter=self._interrupter(),
            )
        return replace(result, manifests=deployment.redact_all(result.manifests))

    def manifests(
        self,
        *,
        cluster: str | None = None,
        image: str | None = None,
        hub_url: str | None = None,
        show_secrets: bool = False,
    ) -> dict[str, list[dict[str, Any]]]:
        """What `deploy` would apply, by cluster (hub first), with no cluster needed.

        Secrets are redacted unless `show_secrets` (the fleet's stored client token, created
        0600 on first use). A spoke's join token is minted by a running hub, so its Secret
        holds a placeholder here: `kindfleet spokes token NAME` mints one."""
        token = deploy_state.client_token(self.spec, self.state_dir) if show_secrets else None
        found = deployment.offline_manifests(
            self.spec, cluster=cluster, image=image, hub_url=hub_url, client_token=token
        )
        return found if show_secrets else deployment.redact_all(found)

    def write_manifests(
        self,
        directory: str | Path,
        *,
        cluster: str | None = None,
        image: str | None = None,
        hub_url: str | None = None,
        show_secrets: bool = False,
    ) -> list[tuple[Path, int]]:
        """`directory/<cluster>/` per cluster: one file per object and a kustomization.yaml
        (`kubectl apply -k`); files are 0600 when they hold secrets. Returns each directory
        written with its number of objects."""
        found = self.manifests(
            cluster=cluster, image=image, hub_url=hub_url, show_secrets=show_secrets
        )
        written = deployment.write_kustomizations(Path(directory), found, private=show_secrets)
        return [(d, len(found[d.name])) for d in written]

    def export_logs(
        self,
        out: str | Path | None = None,
        *,
        clusters: Sequence[str] | None = None,
        kubeconfig: str | Path | None = None,
        progress: Reporter = ignore,
    ) -> lifecycle.LogsExport:
        """Every cluster's logs (kind: `kind export logs`; local: the processes' logs) and
        the platform's pods' logs, in one folder, for after something failed. `out`: the
        folder (default: a new one under the system's temporary directory). Best effort:
        what could not be had is listed in the result and in `<out>/summary.txt`."""
        directory = (
            Path(out) if out else Path(tempfile.mkdtemp(prefix=f"kindfleet-logs-{self.name}-"))
        )
        return lifecycle.export_logs(
            self.spec,
            self.provider(kubeconfig),
            directory,
            runner=self.runner,
            components=manifests_of.components(self.spec),
            clusters=clusters,
            report=progress,
        )

    def kubeconfig(
        self, cluster: str, *, internal: bool = False, kubeconfig: str | Path | None = None
    ) -> str:
        """A kubeconfig for one cluster; `internal`: its API address on the container
        network, what other clusters (a spoke reaching the hub) use."""
        name = self.spec.cluster(cluster).name
        return self.provider(kubeconfig).kubeconfig(self.spec, name, internal=internal)

    def use(self, cluster: str, *, kubeconfig: str | Path) -> str:
        """Make the cluster's context the current one in `kubeconfig`; returns the context."""
        found = self.spec.cluster(cluster)
        provider = self.provider(kubeconfig)
        if not traits(provider).manages_kubeconfig:
            # A local fleet is not Kubernetes: said as `kubeconfig` says it, not "bring the
            # cluster up first" of a cluster that is up (found from outside).
            provider.kubeconfig(self.spec, found.name)
        context = found.context
        target = kc.KubeconfigFile(kubeconfig)
        if not kc.has_context(target.read(), context):
            raise UsageError(
                f"{target.path} has no context {context}",
                hint=f"bring the cluster up first: `kindfleet up --kubeconfig {target.path}`",
            )
        target.update(lambda config: kc.use_context(config, context, source=str(target.path)))
        return context

    # -- the platform's workloads ----------------------------------------------------------

    def hub(self, *, timeout: float = 10.0, kubeconfig: str | Path | None = None) -> HubClient:
        """A client of the fleet's hub with the fleet's client token (use it in `with`).
        A hub it cannot reach while a fault is held on the hub's cluster is said to be
        that fault's doing, not "is the hub running?"."""
        provider = self.provider(kubeconfig)
        return access.hub_client(
            self.spec,
            provider,
            state_root=self.state_dir,
            timeout=timeout,
            unreachable_hint=self._hub_fault,
        )

    def _hub_fault(self) -> str | None:
        try:
            held = [r for r in self._faultbook().live() if r.cluster == self.spec.hub.name]
        except (KindfleetError, OSError):
            return None
        if not held:
            return None
        ids = " ".join(r.id for r in held)
        what = ", ".join(f"`{r.action}`" for r in held)
        file = f" -f {self.source[0]}" if self.source else ""
        return (
            f"the hub's cluster {self.spec.hub.name} is held by a fault ({what}, `kindfleet "
            f"fault list{file}`): `kindfleet fault clear{file} {ids}` ends it"
        )

    def hub_address(self, *, kubeconfig: str | Path | None = None) -> tuple[str, str]:
        """(URL, client token) of the fleet's hub, for a client of one's own."""
        provider = self.provider(kubeconfig)
        return access.hub_address(self.spec, provider, state_root=self.state_dir)

    def dashboard(self, *, kubeconfig: str | Path | None = None) -> tuple[str, str]:
        """(URL, client token) of the hub's dashboard; the hub is told the fault records
        first, so a hub restarted since the last fault command shows them again."""
        provider = self.provider(kubeconfig)
        url, token = access.hub_address(self.spec, provider, state_root=self.state_dir)
        self.report_faults(kubeconfig=kubeconfig)
        return f"{url.rstrip('/')}/ui/", token

    def submit(
        self,
        specs: Sequence[WorkloadSpec | Mapping[str, Any]],
        *,
        key: str | None = None,
        sending: Callable[[int], None] = lambda _: None,
        submitted: Callable[[list[SubmitResponse]], None] = lambda _: None,
    ) -> list[SubmitResponse]:
        """Submit workloads (each checked first: `WorkloadSpecError` lists what is wrong).
        `key`: submitting again with the same key runs them once. Several go in batches of
        up to `MAX_BATCH`, each one transaction of the hub (all of it stored, or none), in
        the order given; `sending` is told each batch's size before it goes, `submitted`
        its answers once stored, so that a caller stopped half way knows how far it got
        (and what may have been stored: a batch sent and not answered)."""
        checked = [s if isinstance(s, WorkloadSpec) else workloadfile.validate(s) for s in specs]
        keys = workloadfile.idempotency_keys(key, len(checked))
        with self.hub() as hub:
            if len(checked) == 1:
                results = [hub.submit(checked[0], idempotency_key=keys[0])]
                submitted(results)
                return results
            items = [
                BatchItem(idempotency_key=k or str(uuid.uuid4()), spec=s)
                for s, k in zip(checked, keys, strict=True)
            ]
            results = []
            for batch in _batches(items):
                sending(len(batch))
                answers = hub.submit_batch(batch)
                results += answers
                submitted(answers)
            return results

    def logs(
        self,
        workload: str,
        *,
        generation: int | None = None,
        stream: str = "stdout",
        tail: int | None = None,
        kubeconfig: str | Path | None = None,
    ) -> str:
        """A run's log (by default the last attempt's), read from the spoke that ran it;
        `tail`: only its last lines."""
        with self.hub() as hub:
            found = hub.get(workload)
        provider = self.provider(kubeconfig)
        return access.read_log(
            self.spec, provider, found, generation=generation, stream=stream, tail=tail
        )

    def follow_logs(
        self,
        workload: str,
        *,
        generation: int | None = None,
        stream: str = "stdout",
        tail: int | None = None,
        kubeconfig: str | Path | None = None,
        hub_silent: Callable[[str], None] = lambda _: None,
    ) -> None:
        """A run's log on this process's stdout, then what the run writes until it ends
        (work not started yet is waited for). The hub says when it has ended: while it
        cannot be asked, the log is followed on, and `hub_silent` told why, once."""
        provider = self.provider(kubeconfig)
        with self.hub() as hub:
            access.follow_log(
                self.spec, provider, hub, hub.get(workload),
                generation=generation, stream=stream, tail=tail, hub_silent=hub_silent,
            )  # fmt: skip

    # -- checks -----------------------------------------------------------------------

    def probes(self, *, kubeconfig: str | Path | None = None) -> ProbesSpokes | None:
        """The provider, when it can hand the isolation suite what a spoke holds."""
        provider = self.provider(kubeconfig)
        return provider if isinstance(provider, ProbesSpokes) else None

    def check(
        self,
        suites: Sequence[str] | None = None,
        *,
        lost_after: float | None = None,
        timeout: float = 180.0,
        kubeconfig: str | Path | None = None,
        progress: Callable[[CheckResult], None] = lambda r: None,
        starting: Callable[[str], None] = lambda name: None,
    ) -> CheckReport:
        """Run check suites (default all: comms, routing, telemetry, failover, isolation;
        one check: `failover/spoke-kill`) against the platform; one result per check.
        `lost_after`: the hub's loss window when known (else the failover suite measures
        it); `timeout`: the longest one wait of a check may take."""
        from kindfleet import checks

        options = checks.CheckOptions(lost_after=lost_after, timeout=timeout, kubeconfig=kubeconfig)
        return checks.run(self, suites, options=options, progress=progress, starting=starting)

    # -- load -------------------------------------------------------------------------

    def load(
        self,
        options: LoadOptions | None = None,
        *,
        report: str | Path | None = None,
        kubeconfig: str | Path | None = None,
        progress: Callable[[Progress], None] = lambda p: None,
    ) -> LoadResult:
        """The article's load test against this running fleet (`LoadOptions`: requests,
        spokes, concurrency, rate, duration, spec); `report`: a folder for report.json and
        report.html. The result's `lost` and `duplicated` must be 0."""
        import sys

        from kindfleet import load as loading
        from kindfleet.load import report as reporting

        loading.check(self.spec, options or LoadOptions())
        if report is not None:  # written after the run: a report that cannot be, refused now
            reporting.ready(Path(report), name="report=")
        provider = self.provider(kubeconfig)
        python = "python" if self.spec.rules.kubernetes else sys.executable
        last: dict[str, float] = {"at": 0.0}
        seen: dict[str, int] = {}

        def memory() -> dict[str, int]:
            if time.monotonic() - last["at"] < 5:
                return seen
            last["at"] = time.monotonic()
            seen.update(self._memory(provider, [c.name for c in self.spec.clusters]))
            return seen

        result = loading.run(
            self, options or LoadOptions(), python=python, memory=memory, progress=progress
        )
        if report is not None:
            reporting.write(result, Path(report))
        return result


def _batches(items: Sequence[BatchItem]) -> Iterator[list[BatchItem]]:
    """`items` in order, at most MAX_BATCH a request and well within the hub's body size
    (a workload's spec may be large: 1,000 of them were a 413)."""
    budget = MAX_BODY // 2
    batch: list[BatchItem] = []
    size = 0
    for item in items:
        weight = len(item.model_dump_json()) + 1
        if batch and (len(batch) == MAX_BATCH or size + weight > budget):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += weight
    if batch:
        yield batch


def load_fleet(path: str | Path, *, provider: str | None = None) -> Fleet:
    """Read, validate and resolve a fleet file; raises `SpecError` listing every problem.
    `provider`: run the fleet with this provider instead of the one the file names."""
    return Fleet.from_path(path, provider=provider)
