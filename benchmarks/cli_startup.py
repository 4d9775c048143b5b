"""How fast the CLI answers, beside `python -c pass` measured in the same run.

Each command runs `--runs` times as a fresh process; the figure is the fastest run (the
least disturbed by whatever else the machine does), and the ratio is against the fastest
`python -c pass` of the same interpreter. `kind version` is timed too, where kind exists,
as the tool users compare us with; and a floor: the libraries the CLI and the fleet file are
built on (typer, PyYAML, pydantic), imported by a bare interpreter, which `validate` needs
before any line of ours runs.

kindfleet's own modules are compiled to bytecode first, as an install from a wheel does: a
checkout run with PYTHONDONTWRITEBYTECODE (set on this project's machines) compiles every
module from source at every start, 40-60 ms of `validate`, which no user pays.

    .venv/bin/python benchmarks/cli_startup.py --runs 20
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLEET = ROOT / "examples" / "article.yaml"


def fastest(argv: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    compileall.compile_dir(Path(find_spec("kindfleet").origin).parent, quiet=1)  # type: ignore[union-attr, arg-type]
    kindfleet = [sys.executable, "-m", "kindfleet"]
    script = shutil.which("kindfleet", path=str(Path(sys.executable).parent))
    if script:
        kindfleet = [script]
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "kindfleet --help": [*kindfleet, "--help"],
        "kindfleet version": [*kindfleet, "version"],
        f"kindfleet validate -f {FLEET.relative_to(ROOT)}": [
            *kindfleet,
            "validate",
            "-f",
            str(FLEET),
        ],
    }
    # What `validate` cannot do without: the libraries the project builds its CLI and its
    # fleet file on, imported alone (no kindfleet module), as a floor for the figure above.
    cases["floor: import typer, yaml; pydantic BaseModel"] = [
        sys.executable,
        "-c",
        "import typer, yaml; from pydantic import BaseModel",
    ]
    kind = shutil.which("kind") or "/work/shared/tools/kind/kind"
    if Path(kind).exists():
        cases["kind version"] = [kind, "version"]
    base = 0.0
    print(f"{'command':<48} {'fastest':>9} {'× python -c pass':>17}")
    for name, argv in cases.items():
        seconds = fastest(argv, args.runs)
        base = base or seconds
        print(f"{name:<48} {seconds * 1000:>7.1f}ms {seconds / base:>16.1f}×")


if __name__ == "__main__":
    main()
