"""Everything a person needs to find out why a fleet misbehaved, in one folder, the way
kind's own CI collects it: per cluster, what the provider can export (kind: `kind export
logs`, every node's journal, kubelet, containerd and pod logs; the local runtime: the
hub's or agent's process log), and where the platform runs on Kubernetes, its pods' logs
(current and previous), their description and the namespace's pods and events.

Best effort throughout: a cluster that is gone, a namespace that was never deployed, a
pod with no previous container is one line in `summary.txt`, never an error, because
this runs when something has already gone wrong. Clusters are worked on in parallel.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kindfleet.errors import KindfleetError
from kindfleet.exec import Command, CommandError, Runner
from kindfleet.fleetspec.internal import Cluster, FleetSpec
from kindfleet.lifecycle.events import Event, Reporter, ignore
from kindfleet.lifecycle.parallel import run_parallel
from kindfleet.lifecycle.up import selected
from kindfleet.providers.base import AppliesManifests, ExportsLogs, Provider, traits
from kindfleet.providers.kubectl.commands import describe_pods_cmd, get_wide_cmd, pod_logs_cmd
from kindfleet.providers.kubectl.parsing import context_of
from kindfleet.providers.preflight import last_line

# Where the platform runs in a cluster: (namespace, pod selector or None for "list only").
Components = Mapping[str, Sequence[tuple[str, str | None]]]


@dataclass(frozen=True)
class LogsExport:
    directory: Path
    clusters: tuple[str, ...]
    problems: tuple[str, ...]  # what could not be had, "<cluster>: <why>"
    seconds: float


def export(
    fleet: FleetSpec,
    provider: Provider,
    out: Path,
    *,
    runner: Runner,
    components: Components,
    clusters: Sequence[str] | None = None,
    parallel: int = 4,
    report: Reporter = ignore,
    clock: Callable[[], float] = time.monotonic,
) -> LogsExport:
    """Collect the logs of every cluster of the fleet (or those named) under `out`."""
    start = clock()
    chosen = selected(fleet, clusters)
    out.mkdir(parents=True, exist_ok=True)

    def one(cluster: Cluster) -> list[str]:
        began = clock()
        job = _Job(fleet, provider, runner, cluster, out / cluster.name)
        problems = _provider_part(job)
        if isinstance(provider, AppliesManifests) and not traits(provider).runs_platform:
            problems += _platform_part(job, components.get(cluster.name, ()))
        note = f"{len(problems)} missing" if problems else str(job.directory)
        report(Event(cluster.name, "logs", "done", note, clock() - began, final=True))
        return problems

    results = run_parallel(chosen, one, limit=parallel, key=lambda c: c.name)
    problems: list[str] = []
    for name, result in results.items():
        lines = result if isinstance(result, list) else [f"unexpected {result!r}"]
        problems += [f"{name}: {line}" for line in lines]
    _summary(out, fleet, [c.name for c in chosen], problems)
    return LogsExport(out, tuple(c.name for c in chosen), tuple(problems), clock() - start)


@dataclass(frozen=True)
class _Job:
    fleet: FleetSpec
    provider: Provider
    runner: Runner
    cluster: Cluster
    directory: Path


def _provider_part(job: _Job) -> list[str]:
    job.directory.mkdir(parents=True, exist_ok=True)
    if not isinstance(job.provider, ExportsLogs):
        return [f"provider {job.provider.name} exports no cluster logs"]
    return job.provider.export_logs(job.fleet, job.cluster, job.directory)


@contextlib.contextmanager
def _private(text: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kindfleet-logs-") as tmp:
        path = Path(tmp) / "kubeconfig"
        path.touch(mode=0o600)
        path.write_text(text, encoding="utf-8")
        yield path


def _platform_part(job: _Job, parts: Sequence[tuple[str, str | None]]) -> list[str]:
    try:
        text = job.provider.kubeconfig(job.fleet, job.cluster.name)
    except KindfleetError as exc:  # a cluster that is gone: its platform logs are too
        return [f"platform logs: no kubeconfig ({exc.message.splitlines()[0]})"]
    context = context_of(text)
    problems: list[str] = []
    with _private(text) as path:
        for namespace, selector in parts:
            where = job.directory / "platform" / namespace
            where.mkdir(parents=True, exist_ok=True)
            wanted: list[tuple[str, Command]] = [
                ("get.txt", get_wide_cmd(path, context, namespace, "pods,jobs,events")),
                ("describe.txt", describe_pods_cmd(path, context, namespace)),
            ]
            if selector:
                wanted.append(("logs.txt", pod_logs_cmd(path, context, namespace, selector)))
                wanted.append(
                    (
                        "previous.txt",
                        pod_logs_cmd(path, context, namespace, selector, previous=True),
                    )
                )
            for name, command in wanted:
                problem = _save(job.runner, command, where / name)
                if problem and name != "previous.txt":  # no restart: no previous log
                    problems.append(f"{namespace}/{name}: {problem}")
    return problems


def _save(runner: Runner, command: Command, target: Path) -> str | None:
    try:
        result = runner.run(command)
    except CommandError as exc:
        target.write_text(f"$ {command.shell()}\n{exc.output}\n", encoding="utf-8")
        return last_line(exc.output)
    target.write_text(result.stdout, encoding="utf-8")
    return None


def _summary(out: Path, fleet: FleetSpec, clusters: list[str], problems: list[str]) -> None:
    lines = [f"fleet {fleet.name}: logs of {', '.join(clusters)}"]
    lines += [f"missing: {p}" for p in problems] or ["nothing missing"]
    (out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
