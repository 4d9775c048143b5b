"""pytest plugin: a fleet for the whole test session, the platform's hub as a fixture.

Installed with kindfleet (entry point `pytest11`), off until a fleet is named:

    pytest --kindfleet-file examples/local.yaml            # or [pytest] kindfleet_file = ...
    pytest --kindfleet-file fleet.yaml --kindfleet-keep    # leave it up for the next run

Fixtures:
- `kindfleet_fleet`: the fleet, brought up once per session (`RunningFleet`: `.fleet`,
  `.kubeconfig`, `.hub()`, `.context(cluster)`), taken down at the end unless kept;
- `kindfleet_hub`: a `HubClient` of the fleet's hub, per test.

Kubeconfig contexts go to a file in the session's temporary directory (or
`--kindfleet-kubeconfig`), never the user's own. Tests that use the fixtures are skipped,
with the reason, when no fleet file is given.

Under pytest-xdist (`-n N`) the workers share one fleet, as they share one machine: the
first to need it brings it up under a lock in the run's temporary directory, the others
find it up, and the controller takes it down once every worker is done. Each worker
bringing up and taking down its own copy of the same fleet collided: the second found the
first's `up` holding the fleet (FleetBusy, its tests errors), and on KIND, where clusters
are the machine's by name, the first worker to finish would delete the clusters the
others were still testing against.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kindfleet.errors import KindfleetError
from kindfleet.platform.client import HubClient
from kindfleet.testing import RunningFleet, bring_up, fleet_up, load

_SHARED = pytest.StashKey[dict[str, Any]]()  # the controller's record of the workers' fleet


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kindfleet: the test needs the session's fleet (skipped without one)"
    )


@pytest.fixture(scope="session")
def kindfleet_fleet(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    config = request.config
    source = config.getoption("--kindfleet-file") or config.getini("kindfleet_file")
    if not source:
        pytest.skip("no fleet: pass --kindfleet-file FILE (or set kindfleet_file in pytest.ini)")
    kubeconfig = config.getoption("--kindfleet-kubeconfig")
    keep = bool(config.getoption("--kindfleet-keep"))
    worker = getattr(config, "workerinput", None)
    # Workers of one xdist run share its base temporary directory's parent.
    base = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.mktemp("kf")
    shared = {
        "source": str(Path(str(source)).resolve()),
        "provider": config.getoption("--kindfleet-provider"),
        "kubeconfig": str(Path(kubeconfig).resolve() if kubeconfig else base / "kubeconfig"),
        # A kept local fleet must be found again by the next run: the usual state dir.
        "state_dir": None if keep else str(base / "kindfleet-state"),
        "keep": keep,
    }
    if worker is None:
        with fleet_up(
            shared["source"],
            provider=shared["provider"],
            kubeconfig=Path(shared["kubeconfig"]),
            state_dir=_path(shared["state_dir"]),
            keep=keep,
        ) as running:
            yield running
        return
    fleet = load(
        shared["source"], provider=shared["provider"], state_dir=_path(shared["state_dir"])
    )
    with _locked(base / "kindfleet.lock"):
        failed = base / "kindfleet.failed"
        if failed.exists():
            pytest.fail(f"the session fleet did not come up: {failed.read_text()}", pytrace=False)
        output: dict[str, Any] = getattr(config, "workeroutput")  # noqa: B009 (xdist's)
        output["kindfleet"] = json.dumps(shared)  # the controller takes it down
        try:
            bring_up(fleet, kubeconfig=Path(shared["kubeconfig"]), keep=keep)
        except KindfleetError as exc:
            failed.write_text(str(exc))  # the other workers fail at once, not after a retry
            raise
    yield RunningFleet(fleet, Path(shared["kubeconfig"]))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: a worker is done; remember the fleet it used."""
    used = getattr(node, "workeroutput", {}).get("kindfleet")
    if used:
        node.config.stash[_SHARED] = json.loads(used)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """xdist's controller, once every worker is done: the shared fleet goes down."""
    shared = session.config.stash.get(_SHARED, None)
    if shared is None or shared["keep"] or hasattr(session.config, "workerinput"):
        return
    fleet = load(
        shared["source"], provider=shared["provider"], state_dir=_path(shared["state_dir"])
    )
    fleet.down(kubeconfig=Path(shared["kubeconfig"]))


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file is closed
        yield


@pytest.fixture
def kindfleet_hub(kindfleet_fleet: RunningFleet) -> Iterator[HubClient]:
    with kindfleet_fleet.hub() as hub:
        yield hub
