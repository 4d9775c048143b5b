"""Running a matrix: per version, the fleet up, the command, its logs when it failed, the
fleet down (always); versions of different slots at the same time.

Each version has a folder of its own: `fleet.yaml` (the renamed fleet), `kubeconfig`,
`command.log`, and `logs/` when something failed. The command runs with
KINDFLEET_FILE, KUBECONFIG and KINDFLEET_MATRIX_VERSION set, so `kindfleet check` and
kubectl find this version's fleet with no flag; `{file}`, `{kubeconfig}` and `{version}`
in its arguments are replaced too.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from kindfleet import fleetspec
from kindfleet.errors import KindfleetError, unexpected
from kindfleet.exec import CommandError, ProcessRunner, cmd
from kindfleet.fleet import Fleet
from kindfleet.fleetspec import yamlread
from kindfleet.lifecycle.parallel import run_parallel
from kindfleet.matrix.plan import MatrixPlan, VersionRun, plan
from kindfleet.matrix.results import MatrixResult, Step, VersionResult
from kindfleet.matrix.stopping import Stop
from kindfleet.providers.base import Provider
from kindfleet.providers.preflight import CHECKS, PreflightOptions

Progress = Callable[[str, str], None]  # (version, what: up | command | logs | down | result)


@dataclass(frozen=True)
class MatrixOptions:
    command: tuple[str, ...] = ()  # empty: `kindfleet check` (with --junit under junit_dir)
    parallel: int = 1
    cluster: str | None = None
    workdir: Path | None = None  # default: a new folder in the temp directory
    junit_dir: Path | None = None
    command_timeout: float = 3600.0
    wait: float = 300.0  # per cluster, for `up`
    state_dir: Path | None = None
    provider: str | None = None
    skip_checks: tuple[str, ...] = ()  # preflight checks `up` skips


def load_plan(path: str | Path, versions: Sequence[str], options: MatrixOptions) -> MatrixPlan:
    """The matrix of a fleet file, at most as parallel as the machine holds (`fit`)."""
    source = Path(path)
    fleetspec.from_path(source, provider=options.provider)  # its errors, as validate says them
    data = yamlread.read(source.read_bytes(), source=str(source)).data

    def planned(parallel: int) -> MatrixPlan:
        return plan(
            data,
            versions,
            parallel=parallel,
            cluster=options.cluster,
            provider=options.provider,
            source=str(source),
            base_dir=source.resolve().parent,
        )

    made = planned(options.parallel)
    held = fit(made, _fleet(made.runs[0], options).provider())
    return made if held == made.parallel else planned(held)


def fit(made: MatrixPlan, provider: Provider) -> int:
    """How many of the plan's fleets the machine holds at once, by the provider's own
    memory and inotify preflight over the fleets of that many slots together."""
    only = PreflightOptions(skip=tuple(c for c in CHECKS if c not in ("memory", "inotify")))
    for n in range(made.parallel, 1, -1):
        firsts = [r.spec for r in made.runs[:n]]
        together = replace(firsts[0], clusters=tuple(c for s in firsts for c in s.clusters))
        if not provider.preflight(together, only).errors:
            return n
    return 1


def run(
    made: MatrixPlan, options: MatrixOptions, *, progress: Progress = lambda v, what: None
) -> MatrixResult:
    """Every version of the plan; never raises for one version's failure (it is in that
    version's result)."""
    workdir = options.workdir or Path(
        tempfile.mkdtemp(prefix=f"kindfleet-matrix-{made.base.name}-")
    )
    command = options.command or _check(options.junit_dir)
    slots: dict[int, list[VersionRun]] = {}
    for version_run in made.runs:
        slots.setdefault(version_run.slot, []).append(version_run)
    found: dict[str, VersionResult] = {}
    lock = threading.Lock()

    stop = Stop()

    def one_slot(runs: list[VersionRun]) -> None:
        for version_run in runs:
            if stop.requested.is_set():
                progress(version_run.version, "skipped (interrupted)")
                continue
            result = _one(version_run, command, workdir, options, progress, stop=stop)
            with lock:
                found[version_run.version] = result

    # Ctrl-C: `stop` kills what runs, then each slot takes its fleet down before it ends.
    done = run_parallel(
        list(slots.values()),
        one_slot,
        limit=made.parallel,
        key=lambda runs: runs[0].label,
        on_interrupt=stop.interrupt,
    )
    for outcome in done.values():
        if isinstance(outcome, BaseException):
            raise outcome
    ordered = tuple(found[r.version] for r in made.runs)
    return MatrixResult(made.base.name, shlex.join(command), made.parallel, ordered)


def write_fleets(made: MatrixPlan, directory: Path) -> list[Path]:
    """Each version's fleet file, `directory/LABEL/fleet.yaml`, and nothing run: what CI
    brings up step by step (`KINDFLEET_FILE=directory/v1-35/fleet.yaml kindfleet up`)."""
    written = []
    for version_run in made.runs:
        written.append(_write_fleet(version_run, directory / version_run.label))
    return written


def _write_fleet(version_run: VersionRun, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / "fleet.yaml"
    file.write_text(yaml.safe_dump(version_run.data, sort_keys=False), encoding="utf-8")
    return file


def _check(junit_dir: Path | None) -> tuple[str, ...]:
    check = (sys.executable, "-m", "kindfleet", "check")
    return (*check, "--junit", str(junit_dir / "check-{version}.xml")) if junit_dir else check


def _fleet(version_run: VersionRun, options: MatrixOptions) -> Fleet:
    return Fleet(version_run.spec, state_dir=options.state_dir)


def _timed(name: str, call: Callable[[], str]) -> Step:
    started = time.monotonic()
    try:
        message = call()
        ok = True
    except KindfleetError as exc:
        message, ok = str(exc), False
    except Exception as exc:  # one version's surprise must not stop the others
        message, ok = unexpected(exc), False
    return Step(name, ok, time.monotonic() - started, message)


def _one(
    version_run: VersionRun,
    command: Sequence[str],
    workdir: Path,
    options: MatrixOptions,
    progress: Progress,
    *,
    stop: Stop,
) -> VersionResult:
    version = version_run.version
    directory = workdir / version_run.label
    file = _write_fleet(version_run, directory)
    kubeconfig = directory / "kubeconfig"
    fleet = _fleet(version_run, options)
    runner = ProcessRunner()  # the command's
    steps: list[Step] = []

    def step(name: str, call: Callable[[], str]) -> Step:
        progress(version, name)
        done = _timed(name, call)
        steps.append(done)
        return done

    def up() -> str:
        fleet.up(
            kubeconfig=kubeconfig,
            wait=options.wait,
            switch_context=False,
            skip_checks=options.skip_checks,
            logs_dir=directory / "logs",
        )
        return ""

    places = {"file": str(file), "kubeconfig": str(kubeconfig), "version": version}
    env = {
        "KINDFLEET_FILE": str(file),
        "KUBECONFIG": str(kubeconfig),
        "KINDFLEET_MATRIX_VERSION": version,
    }
    if options.state_dir is not None:
        env["KINDFLEET_STATE_DIR"] = str(options.state_dir)
    argv = [_fill(arg, places) for arg in command]
    log = directory / "command.log"
    try:
        stop.track(version, runner, *_runners(fleet))
        if stop.requested.is_set():  # came as this version began: not brought up at all
            steps.append(Step("up", False, 0.0, "not begun: interrupted"))
        elif step("up", up).ok and not stop.requested.is_set():
            step("command", lambda: _command(runner, argv, env, options.command_timeout, log))
        if not all(s.ok for s in steps) and not stop.requested.is_set():
            step("logs", lambda: str(fleet.export_logs(directory / "logs").directory))
    finally:
        stop.release(version)
        try:
            progress(version, "down")
        finally:  # down, always: whatever saying so did (its output closed: `| head`)
            steps.append(_timed("down", lambda: _down(fleet, kubeconfig)))
    if options.junit_dir is not None:
        options.junit_dir.mkdir(parents=True, exist_ok=True)
        junit = options.junit_dir.resolve() / f"matrix-{version}.xml"
        result = VersionResult(
            version, version_run.fleet, version_run.slot, tuple(steps), str(directory), str(junit)
        )
        junit.write_text(result.junit_xml(shlex.join(argv)), encoding="utf-8")
    else:
        result = VersionResult(
            version, version_run.fleet, version_run.slot, tuple(steps), str(directory)
        )
    progress(version, result.outcome)
    return result


def _fill(arg: str, places: Mapping[str, str]) -> str:
    for key, value in places.items():
        arg = arg.replace(f"{{{key}}}", value)
    return arg


def _runners(fleet: Fleet) -> list[ProcessRunner]:
    """The fleet's own runner (its `kind` commands), when it is one a Ctrl-C can stop."""
    return [fleet.runner] if isinstance(fleet.runner, ProcessRunner) else []


def _command(
    runner: ProcessRunner, argv: Sequence[str], env: Mapping[str, str], timeout: float, log: Path
) -> str:
    result = runner.run(cmd(*argv, env=env, timeout=timeout), check=False)
    log.write_text(result.output + "\n", encoding="utf-8")
    if not result.ok:
        raise CommandError(result)
    return str(log)


def _down(fleet: Fleet, kubeconfig: Path) -> str:
    fleet.down(kubeconfig=kubeconfig)
    return ""


def run_matrix(
    path: str | Path,
    versions: Sequence[str],
    options: MatrixOptions | None = None,
    *,
    progress: Progress = lambda v, what: None,
) -> MatrixResult:
    """`kindfleet matrix` from Python: plan the fleet file's versions, run them all."""
    options = options or MatrixOptions()
    return run(load_plan(path, versions, options), options, progress=progress)
