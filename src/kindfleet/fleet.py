"""`Fleet`: the one object scripts, tests and the CLI drive a fleet through.

It holds the resolved spec and offers every operation on it; the CLI is a thin layer of
flags over these methods, so whatever the CLI can do a Python caller can do too:

    fleet = kindfleet.load_fleet("fleet.yaml")
    fleet.up(kubeconfig="ci.kubeconfig")      # UpResult; PartialFailure names failed clusters
    fleet.status()                            # FleetStatus: clusters, nodes, registry
    fleet.down(kubeconfig="ci.kubeconfig")

Nothing here prints or touches a kubeconfig file the caller did not name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kindfleet import kubeconfig as kc
from kindfleet import lifecycle
from kindfleet import spec as fleet_spec
from kindfleet.errors import UsageError
from kindfleet.exec import ProcessRunner, Runner
from kindfleet.lifecycle.context import Interruptible
from kindfleet.lifecycle.events import Reporter, ignore
from kindfleet.preflight import SystemProbes
from kindfleet.providers.base import Provider, ProviderSettings
from kindfleet.providers.detect import get_provider
from kindfleet.render import kindconfig
from kindfleet.spec.internal import FleetSpec


class Fleet:
    def __init__(
        self,
        spec: FleetSpec,
        *,
        provider: Provider | None = None,
        runner: Runner | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`provider`, `runner`, `env`: injected by tests; by default the fleet file's
        provider, a process runner, and this process's environment."""
        self.spec = spec
        self.runner: Runner = runner or ProcessRunner()
        self.env = dict(os.environ if env is None else env)
        self._provider = provider

    @classmethod
    def from_path(cls, path: str | Path, **kwargs: Any) -> Fleet:
        return cls(fleet_spec.from_path(path), **kwargs)

    @classmethod
    def from_text(cls, text: str, *, source: str = "<fleet>", **kwargs: Any) -> Fleet:
        return cls(fleet_spec.from_text(text, source=source), **kwargs)

    @property
    def name(self) -> str:
        return self.spec.name

    def kind_configs(self, cluster: str | None = None) -> dict[str, dict[str, Any]]:
        """KIND configs by cluster name (hub first), or only `cluster`'s."""
        return kindconfig.render_fleet(self.spec, cluster)

    def write_kind_configs(self, directory: str | Path, cluster: str | None = None) -> list[Path]:
        """One `<cluster>.yaml` per cluster in `directory`; returns the files written."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, config in self.kind_configs(cluster).items():
            path = out / f"{name}.yaml"
            path.write_text(kindconfig.to_yaml(config), encoding="utf-8")
            written.append(path)
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
        clusters: Sequence[str] | None = None,
        switch_context: bool = True,
        progress: Reporter = ignore,
    ) -> lifecycle.UpResult:
        """Create what is missing, keep what is healthy, repair what is not; in parallel.

        `kubeconfig`: the file to merge contexts into (None: none; the CLI passes
        --kubeconfig, else $KUBECONFIG's first file, else ~/.kube/config). Raises
        `PrerequisiteError` (preflight), `PartialFailure` (some clusters failed, the rest
        are up) or `ClustersFailed`; both failures carry `.result` and `.failed`.
        """
        if parallel < 1:
            raise UsageError("--parallel must be at least 1")
        path = Path(kubeconfig) if kubeconfig else None
        options = lifecycle.UpOptions(
            parallel=parallel,
            kubeconfig=path,
            wait_seconds=wait,
            retain=retain,
            preflight=preflight,
            skip_checks=frozenset(skip_checks),
            calico_manifest=calico_manifest,
            clusters=tuple(clusters) if clusters else None,
            switch_context=switch_context,
        )
        return lifecycle.up(
            self.spec,
            self.provider(path),
            options,
            report=progress,
            probes=SystemProbes(self.runner, env=self.env) if preflight else None,
            interrupter=self._interrupter(),
        )

    def status(
        self, *, clusters: Sequence[str] | None = None, kubeconfig: str | Path | None = None
    ) -> lifecycle.FleetStatus:
        return lifecycle.status(self.spec, self.provider(kubeconfig), clusters=clusters)

    def down(
        self,
        *,
        cluster: str | None = None,
        kubeconfig: str | Path | None = None,
        parallel: int = 8,
        progress: Reporter = ignore,
    ) -> lifecycle.DownResult:
        """Remove the fleet (or one cluster), its kubeconfig entries in `kubeconfig`, and,
        for the whole fleet, its registry. Clusters of provider existing are left alone."""
        path = Path(kubeconfig) if kubeconfig else None
        options = lifecycle.DownOptions(
            parallel=max(1, parallel), kubeconfig=path, clusters=(cluster,) if cluster else None
        )
        return lifecycle.down(self.spec, self.provider(path), options, report=progress)

    def kubeconfig(
        self, cluster: str, *, internal: bool = False, kubeconfig: str | Path | None = None
    ) -> str:
        """A kubeconfig for one cluster; `internal`: its API address on the container
        network, what other clusters (a spoke reaching the hub) use."""
        name = self.spec.cluster(cluster).name
        return self.provider(kubeconfig).kubeconfig(self.spec, name, internal=internal)

    def use(self, cluster: str, *, kubeconfig: str | Path) -> str:
        """Make the cluster's context the current one in `kubeconfig`; returns the context."""
        context = self.spec.cluster(cluster).context
        target = kc.KubeconfigFile(kubeconfig)
        if not kc.has_context(target.read(), context):
            raise UsageError(
                f"{target.path} has no context {context}",
                hint=f"bring the cluster up first: `kindfleet up --kubeconfig {target.path}`",
            )
        target.update(lambda config: kc.use_context(config, context, source=str(target.path)))
        return context


def load_fleet(path: str | Path) -> Fleet:
    """Read, validate and resolve a fleet file; raises `SpecError` listing every problem."""
    return Fleet.from_path(path)
