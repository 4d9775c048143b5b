"""Many workloads from one file (`kindfleet submit --spec LIST`), against a real local hub:
in batches, each stored whole; submitted again with the same key, none twice; stopped half
way, it says how far it got, and the hub holds exactly that."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kindfleet.platform.wire import MAX_BATCH
from kindfleet.testing import fleet_up

pytestmark = pytest.mark.slow

FLEET = """
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: many
provider: local
spokes:
  - name: many-spoke
"""
COUNT = 2 * MAX_BATCH + 500


def _specs(batch: str) -> list[dict[str, object]]:
    # Placed nowhere (no spoke has the label): they wait, and nothing runs.
    return [
        {"name": f"w{i}", "command": ["true"], "labels": {"batch": batch},
         "selector": {"match_labels": {"pool": "none"}}}
        for i in range(COUNT)
    ]  # fmt: skip


def _count(hub, batch: str) -> int:
    seen, cursor = 0, None
    while True:
        page = hub.list_workloads(labels={"batch": batch}, limit=1000, cursor=cursor)
        seen += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen


def test_many_go_in_batches_and_again_with_the_key_none_twice(tmp_path: Path) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(FLEET)
    with fleet_up(fleet_file, state_dir=tmp_path / "state") as running:
        sizes: list[int] = []
        first = running.fleet.submit(
            _specs("a"), key="many-a", submitted=lambda b: sizes.append(len(b))
        )
        assert sizes == [MAX_BATCH, MAX_BATCH, 500]
        assert all(r.created for r in first)
        assert [r.workload.spec.name for r in first] == [f"w{i}" for i in range(COUNT)]
        again = running.fleet.submit(_specs("a"), key="many-a")
        assert not any(r.created for r in again)
        assert [r.workload.id for r in again] == [r.workload.id for r in first]
        with running.hub() as hub:
            assert _count(hub, "a") == COUNT

        # Stopped (Ctrl-C) while the second batch is on its way: the first is stored.
        spec_file = tmp_path / "many.yaml"
        spec_file.write_text("\n".join(f"- {s}" for s in map(_flow, _specs("b"))))
        code = (
            "import sys\n"
            "from kindfleet.platform.client import HubClient\n"
            "real = HubClient.submit_batch\n"
            "calls = []\n"
            "def stopped(self, items):\n"
            "    calls.append(1)\n"
            "    if len(calls) == 2:\n"
            "        raise KeyboardInterrupt\n"
            "    return real(self, items)\n"
            "HubClient.submit_batch = stopped\n"
            "from kindfleet.cli import main\n"
            "sys.argv = ['kindfleet', 'submit', '--spec', sys.argv[1], '-f', sys.argv[2], "
            "'--key', 'many-b']\n"
            "main()\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(spec_file), str(fleet_file)],
            capture_output=True, text=True, check=False,
            env={**os.environ, "KINDFLEET_STATE_DIR": str(tmp_path / "state")},
        )  # fmt: skip
        assert done.returncode == 130, done.stderr
        assert f"stopped with the first {MAX_BATCH} of {COUNT} workloads stored" in done.stderr
        assert f"the {MAX_BATCH} sent after them maybe stored too" in done.stderr
        assert "--key many-b again stores each once" in done.stderr
        with running.hub() as hub:
            assert _count(hub, "b") == MAX_BATCH
        rest = running.fleet.submit(_specs("b"), key="many-b")
        assert sum(r.created for r in rest) == COUNT - MAX_BATCH
        with running.hub() as hub:
            assert _count(hub, "b") == COUNT

        # The same key asked to store another workload (item 1200): its batch is refused
        # whole, and the message names the list's workloads, not the batch's.
        changed = _specs("b")
        changed[1200]["command"] = ["false"]
        spec_file.write_text("\n".join(f"- {s}" for s in map(_flow, changed)))
        refused = subprocess.run(
            [sys.executable, "-m", "kindfleet", "submit", "--spec", str(spec_file),
             "-f", str(fleet_file), "--key", "many-b"],
            capture_output=True, text=True, check=False,
            env={**os.environ, "KINDFLEET_STATE_DIR": str(tmp_path / "state")},
        )  # fmt: skip
        assert refused.returncode != 0
        assert f"refused workloads {MAX_BATCH + 1}-{2 * MAX_BATCH} of {COUNT}" in refused.stderr
        assert f"after the first {MAX_BATCH} were stored" in refused.stderr

        # Large specs (about 1 MiB each, within a workload's bounds): 40 are more than the
        # hub takes in one body, so they go in more batches, all stored.
        big = [{**spec, "command": ["true", *(["x" * 4000] * 255)]} for spec in _specs("c")[:40]]
        sizes = []
        stored = running.fleet.submit(big, submitted=lambda b: sizes.append(len(b)))
        assert len(sizes) > 1 and sum(sizes) == 40 and all(r.created for r in stored)
        with running.hub() as hub:
            assert _count(hub, "c") == 40


def _flow(spec: dict[str, object]) -> str:
    """One spec as a YAML flow map (JSON is YAML)."""
    import json

    return json.dumps(spec)
