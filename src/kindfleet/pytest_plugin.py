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
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kindfleet.platform.client import HubClient
from kindfleet.testing import RunningFleet, fleet_up


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
    base = tmp_path_factory.mktemp("kindfleet")
    kubeconfig = config.getoption("--kindfleet-kubeconfig")
    keep = bool(config.getoption("--kindfleet-keep"))
    with fleet_up(
        Path(str(source)),
        provider=config.getoption("--kindfleet-provider"),
        kubeconfig=Path(kubeconfig) if kubeconfig else base / "kubeconfig",
        # A kept local fleet must be found again by the next run: the usual state dir.
        state_dir=None if keep else base / "state",
        keep=keep,
    ) as running:
        yield running


@pytest.fixture
def kindfleet_hub(kindfleet_fleet: RunningFleet) -> Iterator[HubClient]:
    with kindfleet_fleet.hub() as hub:
        yield hub
