"""pytest plugin: a fleet for the whole test session, the platform's hub as a fixture.

Installed with kindfleet (entry point `pytest11`), off until a fleet is named:

    pytest --kindfleet-file=examples/local.yaml            # or [pytest] kindfleet_file = ...
    pytest --kindfleet-file=fleet.yaml --kindfleet-keep    # leave it up for the next run

Fixtures:
- `kindfleet_fleet`: the fleet, brought up once per session (`RunningFleet`: `.fleet`,
  `.kubeconfig`, `.hub()`, `.context(cluster)`), taken down at the end unless kept;
- `kindfleet_hub`: a `HubClient` of the fleet's hub, per test.

Kubeconfig contexts go to a file in the session's temporary directory (or
`--kindfleet-kubeconfig`), never the user's own. Tests that use the fixtures are skipped,
with the reason, when no fleet file is given.

Under pytest-xdist (`-n N`) the workers share one fleet, as they share one machine: the
first to need it brings it up under a lock in a directory the controller gives every
worker, the others use it as it is, and the controller takes it down once every worker is
done or gone (Ctrl-C, a crash). Each worker
bringing up and taking down its own copy of the same fleet collided: the second found the
first's `up` holding the fleet (FleetBusy, its tests errors), and on KIND, where clusters
are the machine's by name, the first worker to finish would delete the clusters the
others were still testing against.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kindfleet import stops
from kindfleet.errors import KindfleetError
from kindfleet.fleet import Fleet
from kindfleet.platform.client import HubClient
from kindfleet.testing import RunningFleet, bring_up, fleet_up, load

_XDIST = pytest.StashKey[Path]()  # xdist's controller: where its workers record their fleet


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kindfleet", "kindfleet: a fleet for the test session")
    group.addoption("--kindfleet-file", help="fleet file to bring up for the session")
    group.addoption(
        "--kindfleet-provider",
        choices=["kind", "local", "existing"],
        help="run the fleet file with this provider instead of its own",
    )
    group.addoption(
        "--kindfleet-keep",
        action="store_true",
        help="leave the fleet up after the session (the next run reuses it)",
    )
    group.addoption("--kindfleet-kubeconfig", help="kubeconfig file for the fleet's contexts")
    parser.addini("kindfleet_file", "fleet file to bring up for the session")


_STOPS = pytest.StashKey[dict[int, Any]]()  # the stop signals' handlers before ours


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kindfleet: the test needs the session's fleet (skipped without one)"
    )
    if _fleet_named(config) and not hasattr(config, "workerinput"):
        # SIGTERM (a cancelled CI job) killed pytest where it stood and left the fleet and
        # its workloads running (found from outside): it ends the session as Ctrl-C does.
        config.stash[_STOPS] = stops.stop_signals()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked `kindfleet` gets the session's fleet, or is skipped with the reason
    when none is named, as the marker says (it did neither: found from outside)."""
    for item in items:
        names: list[str] | None = getattr(item, "fixturenames", None)
        if names is None or not item.get_closest_marker("kindfleet"):
            continue
        if "kindfleet_fleet" not in names:
            names.append("kindfleet_fleet")


def pytest_unconfigure(config: pytest.Config) -> None:
    for sig, handler in config.stash.get(_STOPS, {}).items():
        signal.signal(sig, handler)


def _fleet_named(config: pytest.Config) -> bool:
    return bool(config.getoption("--kindfleet-file") or config.getini("kindfleet_file"))


@pytest.fixture(scope="session")
def kindfleet_fleet(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    config = request.config
    source = config.getoption("--kindfleet-file")
    if not source and config.getini("kindfleet_file"):  # relative to the ini file, as pytest's
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        source = str(base / str(config.getini("kindfleet_file")))
    if not source:
        pytest.skip("no fleet: pass --kindfleet-file FILE (or set kindfleet_file in pytest.ini)")
    kubeconfig = config.getoption("--kindfleet-kubeconfig")
    keep = bool(config.getoption("--kindfleet-keep"))
    shared_dir = _shared_dir(config)
    base = shared_dir or tmp_path_factory.mktemp("kindfleet")
    shared = {
        "source": str(Path(str(source)).resolve()),
        "provider": config.getoption("--kindfleet-provider"),
        "kubeconfig": str(Path(kubeconfig).resolve() if kubeconfig else base / "kubeconfig"),
        # A kept local fleet must be found again by the next run: the usual state dir.
        "state_dir": None if keep else str(base / "state"),
        "keep": keep,
    }
    if shared_dir is None:
        with fleet_up(
            Path(shared["source"]),
            provider=shared["provider"],
            kubeconfig=Path(shared["kubeconfig"]),
            state_dir=_path(shared["state_dir"]),
            keep=keep,
        ) as running:
            yield running
        return
    fleet = _load(shared)
    with _locked(shared_dir / "lock"):
        failed = shared_dir / "failed"
        if failed.exists():
            pytest.fail(f"the session fleet did not come up: {failed.read_text()}", pytrace=False)
        if not (shared_dir / "up").exists():  # only the first worker brings it up
            (shared_dir / "fleet.json").write_text(json.dumps(shared))  # the controller's
            try:
                bring_up(fleet, kubeconfig=Path(shared["kubeconfig"]), keep=keep)
            except BaseException as exc:
                failed.write_text(str(exc) or type(exc).__name__)  # the others fail at once
                raise
            (shared_dir / "up").touch()
    yield RunningFleet(fleet, Path(shared["kubeconfig"]))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist's controller, for each worker it starts (a crashed worker's replacement too):
    the directory where the workers' one fleet is recorded, the controller's to clean up."""
    config = node.config
    if _XDIST not in config.stash:
        config.stash[_XDIST] = Path(tempfile.mkdtemp(prefix="kindfleet-xdist-"))
    node.workerinput["kindfleet_shared"] = str(config.stash[_XDIST])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """xdist's controller, once every worker is done (or gone: Ctrl-C, a crash): the fleet
    a worker brought up goes down (unless kept)."""
    shared_dir = session.config.stash.get(_XDIST, None)
    if shared_dir is None:
        return
    record = shared_dir / "fleet.json"
    try:
        shared = json.loads(record.read_text()) if record.exists() else None
        if shared is not None and not shared["keep"]:
            _load(shared).down(kubeconfig=Path(shared["kubeconfig"]))
    except KindfleetError as exc:
        writer = session.config.get_terminal_writer()
        writer.line(f"kindfleet: the session fleet did not go down: {exc}", red=True)
        writer.line(f"kindfleet: its state stays in {shared_dir}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    shutil.rmtree(shared_dir, ignore_errors=True)


def _shared_dir(config: pytest.Config) -> Path | None:
    """An xdist worker's shared directory (set by the controller); None elsewhere."""
    given = getattr(config, "workerinput", {}).get("kindfleet_shared")
    return Path(given) if given else None


def _load(shared: dict[str, Any]) -> Fleet:
    return load(
        Path(shared["source"]), provider=shared["provider"], state_dir=_path(shared["state_dir"])
    )


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file is closed, or its holder dies
        yield


@pytest.fixture
def kindfleet_hub(kindfleet_fleet: RunningFleet) -> Iterator[HubClient]:
    with kindfleet_fleet.hub() as hub:
        yield hub
