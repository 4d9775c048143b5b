"""One local fleet (a hub and three spokes as processes) and one headless Chromium for the
whole browser module: starting either costs seconds, and `make test` runs on 2 cores.

The browser is Debian's `chromium` driven by Playwright's Python API (no browser download
happens anywhere: `executable_path`). Without it the tests skip and say why; `.ci/run`
installs it where it can.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kindfleet.fleet import Fleet
from kindfleet.fleetspec import from_text
from kindfleet.providers.local import LocalProvider

# Debian's package (or $KINDFLEET_CHROMIUM: another Chromium of a close version).
CHROMIUM = os.environ.get("KINDFLEET_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
LOST_AFTER = 10.0  # NotReady 5 s after the last heartbeat, Lost 10 s after: a window to see
FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: viz
provider: local
spokes:
  - {name: vz-a, labels: {zone: a, pool: cpu}, capacity: {cpu: 2, memory: 2Gi}}
  - {name: vz-b, labels: {zone: b, pool: cpu}, capacity: {cpu: 2, memory: 2Gi}}
  - {name: vz-c, labels: {zone: c, pool: gpu}, capacity: {cpu: 4, memory: 4Gi, gpu: 1}}
"""

# Why the browser tests cannot run here (the test module skips with it), or None.
MISSING = (
    None
    if os.access(CHROMIUM, os.X_OK)
    else f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does, as root)"
)


@dataclass
class Local:
    root: Path
    fleet: Fleet
    file: Path
    url: str  # the dashboard: http://127.0.0.1:PORT/ui/
    token: str

    @property
    def base(self) -> str:
        return self.url.removesuffix("/ui/")


@pytest.fixture
def kindfleet(local: Local, cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`kindfleet ARGS -f FILE` through the CLI's real entry point, in this process (a
    process of its own would spend seconds importing on a loaded 2-core machine)."""
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(local.root / "state"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)

    def run(*args: str) -> str:
        done = cli(*args, "-f", str(local.file))
        assert done.code == 0, (args, done.err)
        return str(done.out)

    return run


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    root = tmp_path_factory.mktemp("viz")
    file = root / "fleet.yaml"
    file.write_text(FLEET)
    provider = LocalProvider(root / "state", lost_after_seconds=LOST_AFTER)
    fleet = Fleet(from_text(FLEET, source=str(file)), provider=provider, state_dir=root / "state")
    fleet.up(preflight=False, parallel=3)
    try:
        url, token = fleet.dashboard()
        yield Local(root, fleet, file, url, token)
    finally:
        fleet.clear_faults()
        fleet.down()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python package (a dev dependency) is absent"
    )
    with sync_api.sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile: no session cookie until the test logs in."""
    ctx = browser.new_context()
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


def log_in(page: Any, local: Local, path: str = "/ui/") -> None:
    """The login page, as a person uses it: the token typed once, then the page asked for."""
    page.goto(local.base + path)
    page.get_by_label("Client token").fill(local.token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/ui/login" not in url)
    assert local.token not in page.url


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core run in the page (evaluated by the driver: the page's CSP allows no inline
    script, and the test does not loosen it); serious and critical violations only."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    assert found["testEngine"]["name"] == "axe-core" and found["passes"] is not None
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"]]}
        for v in found["violations"]
        if v["impact"] in ("serious", "critical")
    ]
