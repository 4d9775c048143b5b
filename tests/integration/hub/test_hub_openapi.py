"""The published API matches the behaviour: schemathesis (`st run --checks all`, stateful
included, authenticated with the client token) against a real hub process reports nothing.

Bounded: a fixed number of examples per operation and a fixed seed, so the run takes a
minute or two on two cores and a failure can be replayed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kindfleet.platform.hub.testing import HubProcess

pytestmark = pytest.mark.slow

EXAMPLES = 6
SEED = 20260101


def test_schemathesis_finds_nothing(tmp_path: Path):
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        pytest.skip("schemathesis is not installed (it is in the dev dependency group)")
    with HubProcess(tmp_path / "hub") as hub:
        result = subprocess.run(
            [
                str(st), "run", f"{hub.url}/openapi.json",
                "--checks", "all",
                "-H", f"Authorization: Bearer {hub.client_token}",
                "--max-examples", str(EXAMPLES),
                "--seed", str(SEED),
                "--workers", "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # its cache (.schemathesis/) stays out of the checkout
            timeout=600,
            check=False,
        )  # fmt: skip
        alive = hub.proc is not None and hub.proc.poll() is None
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert alive, f"the hub died under schemathesis:\n{report}"
    assert result.returncode == 0, report
    assert " passed" in result.stdout and "failure" not in result.stdout.split("Seed:")[0][-400:]
