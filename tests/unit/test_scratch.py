"""Scratch folders carry their maker's pid, so the next `up` removes what a process killed
with SIGKILL left in the temp directory (a cluster's admin kubeconfig among it), and never
a live process's folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kindfleet import scratch


def test_a_dead_processs_folders_are_swept_and_a_live_ones_kept(tmp_path: Path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    gone = tmp_path / f"kindfleet-up-{dead.stdout.strip()}-abc"
    (gone / "sub").mkdir(parents=True)
    (gone / "sub" / "hub.kubeconfig").write_text("client-key-data: secret")
    live = tmp_path / f"kindfleet-kind-{os.getpid()}-xyz"
    live.mkdir()
    other = tmp_path / "kindfleet-up-notapid"  # not one of ours: left
    other.mkdir()
    assert scratch.sweep(tmp_path) == [gone]
    assert not gone.exists() and live.exists() and other.exists()


def test_a_folder_is_named_for_its_maker_and_removed_after():
    with scratch.folder("up") as path:
        assert path.name.startswith(f"kindfleet-up-{os.getpid()}-")
        assert (path.stat().st_mode & 0o777) == 0o700
    assert not path.exists()
