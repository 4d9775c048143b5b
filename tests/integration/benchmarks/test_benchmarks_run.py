"""Every script in benchmarks/ runs to its end at a tiny size and measures what it says.

Nothing here is timed (the figures live in the scripts' output): this keeps the scripts
that issue 17's figures come from working as the code moves. Found from outside: after a
change of `agent_throughput.bare`'s answer, `load_test.py` died at its first line; after
spokes joining with the fleet token began to wait for approval, `agent_memory.py` measured
an agent that never ran a single run (0 of 20 succeeded) and printed its figures anyway.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# script, its arguments at a tiny size, what its output must say
CASES = {
    "agent_memory": (["--runs", "2", "--seconds", "0.5"], "runs succeeded: 2/2"),
    "agent_throughput": (
        ["--runs", "60", "--spokes", "2", "--window", "10", "--bare-per-loop", "20",
         "--timeout", "120", "--state-root", "{tmp}"],
        "0 failed, 0 run twice",
    ),
    "cli_startup": (["--runs", "1"], "kindfleet validate"),
    "fleetfile_validate": (["--repeat", "1"], "validate 100 spokes"),
    "hub_scale": (
        ["--workloads", "200", "--spokes", "2", "--rounds", "1", "--seconds", "0.3",
         "--concurrency", "4"],
        "hub RSS peak",
    ),
    "hub_vs_bare": (
        ["--workloads", "50", "--rounds", "1", "--seconds", "0.3", "--concurrency", "4",
         "--sustain", "0.3"],
        "submit one (durable)",
    ),
    "load_test": (
        ["--requests", "20", "--spokes", "1", "--bare-per-loop", "10", "--state-root", "{tmp}"],
        "lost 0, duplicated 0",
    ),
    "scheduling": (
        ["--pending", "200", "--spokes", "1", "--shapes", "3", "--seconds", "0.3"],
        "spokes ever reported not Ready: none",
    ),
    "submit_ceiling": (
        ["--rounds", "1", "--seconds", "0.3", "--concurrency", "4"],
        "the storeless hub stored 1 of the submissions",
    ),
    "submit_throughput": (
        ["--requests", "50", "--concurrency", "4", "--warmup", "5", "--batch-size", "10"],
        "(all there)",
    ),
    "writer_paths": (["--stored", "50", "--repeat", "2"], "a submission"),
}  # fmt: skip


def test_every_benchmark_script_is_covered() -> None:
    helpers = {"bare_server", "httpload"}  # imported by the others, not run alone
    scripts = {p.stem for p in (ROOT / "benchmarks").glob("*.py")} - helpers
    assert scripts == set(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(CASES))
def test_a_benchmark_runs_at_a_tiny_size(script: str, tmp_path: Path) -> None:
    args, says = CASES[script]
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / f"{script}.py")]
        + [a.format(tmp=tmp_path) for a in args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    assert says in out.stdout, out.stdout[-3000:]
