"""`up` begins by removing what a killed `up` left in the temp directory: a run killed with
SIGKILL cleans nothing, and its folder held the new clusters' admin kubeconfigs for good."""

from __future__ import annotations

import subprocess
import sys
import tempfile

from kindfleet.lifecycle import UpOptions, up
from tests.doubles.fakeprovider import FakeProvider


def test_up_removes_a_killed_ups_folder(spec, tmp_path, monkeypatch, calico_manifest):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    left = tmp_path / f"kindfleet-up-{dead}-k9"
    left.mkdir()
    (left / "t-hub.kubeconfig").write_text("client-key-data: secret")
    up(spec, FakeProvider(), UpOptions(kubeconfig=tmp_path / "kc", calico_manifest=calico_manifest))
    assert not left.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("kindfleet-")]  # its own too
