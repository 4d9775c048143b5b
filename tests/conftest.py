"""Shared fixtures. Tests that need Docker or real KIND are marked and skip with a reason."""

from __future__ import annotations

import faulthandler
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from kindfleet.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


# Tests that share a session's fleet, images or browser run on one xdist worker per group
# (`--dist loadgroup`): the real kind's fleets (the longest chain), the other Docker
# tests, the browser; the rest spread over the workers test by test. Groups never share
# names (each worker's run prefix differs), so two groups may use the engine at once.
_GROUPS = {
    "integration/kindreal": "kind",
    "integration/docker": "docker",
    "integration/deploy": "docker",
    "browser": "browser",
}


# A test process this large is a runaway (a suite's worker needs a few hundred MB): its
# threads' stacks are written to stderr and it ends, instead of the kernel killing the
# largest process it finds, which left no trace of what grew (one CI run, 23 GB).
RUNAWAY_BYTES = 8 * 2**30


def pytest_configure(config: pytest.Config) -> None:
    threading.Thread(target=_watch_memory, name="kf-memory-watch", daemon=True).start()


def _watch_memory() -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    while True:
        time.sleep(1.0)
        try:
            with open("/proc/self/statm") as statm:
                rss = int(statm.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            return  # not Linux: no watch
        if rss > RUNAWAY_BYTES:
            print(
                f"\n*** test process {os.getpid()} at {rss >> 20} MiB: its threads now ***",
                file=sys.stderr,
                flush=True,
            )
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            os._exit(70)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Marked as each test is collected, before any plugin reorders or reads the marks."""
    if not Path(item.path).is_relative_to(ROOT / "tests"):
        return  # a pytester run of the plugin's own tests
    where = Path(item.path).relative_to(ROOT / "tests").as_posix()
    group = next((g for prefix, g in _GROUPS.items() if where.startswith(prefix + "/")), None)
    if group is None and item.get_closest_marker("docker"):
        group = "docker"
    if group is not None:
        item.add_marker(pytest.mark.xdist_group(group))


_FIRST = ("kind", "docker", "browser")  # the longest chains start first, in this order


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The grouped tests first (a stable sort: each group keeps its own order), so that the
    longest chain starts at once on a worker instead of after everything else."""

    def rank(item: pytest.Item) -> int:
        mark = item.get_closest_marker("xdist_group")
        group = mark.args[0] if mark is not None and mark.args else None
        return _FIRST.index(group) if group in _FIRST else len(_FIRST)

    items.sort(key=rank)


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `kindfleet ARGS` in-process through the real entry point (exit codes included)."""

    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["kindfleet", *args])
        environ = dict(os.environ)  # global flags (--provider, --debug) set it for one run
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.environ.clear()
            os.environ.update(environ)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server-side TLS context with a certificate for 127.0.0.1 that nobody vouches for."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl (Debian's openssl package) makes the self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    return tls
