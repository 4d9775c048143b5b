"""How long `kindfleet validate` takes, and how much memory, for fleet files of several
sizes, beside `python -c pass` in the same run (the floor of any Python command here).

Each command runs as a real subprocess, `--repeat` times; the figures are the median
wall time, the median CPU time (user + system, from the process's own rusage) and the
largest resident memory. The in-process column times only reading and resolving the
file (`kindfleet.fleetspec.from_path`), without interpreter start and imports.

    .venv/bin/python benchmarks/fleetfile_validate.py [--repeat 5]

The files are written to a temporary directory:
- `100 spokes`: the list form at its cap, each spoke with labels, two node groups, a GPU
  worker, a mount and a taint; valid;
- `5 MB, 45,000 spokes`: the list form far over the cap; refused at once after reading;
- `5 MB, 100 spokes`: valid, made large by 50 KB of kubeadm patch text per spoke.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HEAD = "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: bench\nregistry: true\n"


def hundred_spokes(count: int = 100, patch_bytes: int = 0) -> str:
    """A valid fleet of `count` spokes; `patch_bytes` of kubeadm patch text per spoke."""
    spoke = (
        "  - name: s{i}\n"
        '    labels: {{plane: compute, idx: "{i}", ver: 1.10}}\n'
        "    nodes:\n"
        "      - role: control-plane\n"
        '        taints: [{{key: dedicated, value: "1234e56", effect: NoSchedule}}]\n'
        "      - role: worker\n"
        "        gpus: 1\n"
        "        labels: {{zone: z{i}}}\n"
        "        mounts: [{{hostPath: ./data, containerPath: /data}}]\n"
    )
    if patch_bytes:
        comments = "".join(f"          # {'x' * 60}\n" for _ in range(patch_bytes // 73))
        spoke += (
            "    kindConfig:\n      kubeadmConfigPatches:\n        - |\n"
            f"          kind: ClusterConfiguration\n{comments}"
        )
    return HEAD + "spokes:\n" + "".join(spoke.format(i=i) for i in range(count))


def five_mb_list() -> str:
    one = "  - name: s{i}\n    labels: {{plane: compute, zone: z{i}}}\n    nodes: [{{role: control-plane}}]\n"
    return HEAD + "spokes:\n" + "".join(one.format(i=i) for i in range(45_000))


def run(argv: list[str], repeat: int) -> tuple[float, float, float, int]:
    """(median wall s, median CPU s, max RSS MiB, exit code) of `argv` run `repeat` times."""
    walls, cpus, rss, code = [], [], 0, 0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss = max(rss, usage.ru_maxrss)
        code = os.waitstatus_to_exitcode(status)
    return statistics.median(walls), statistics.median(cpus), rss / 1024, code


def in_process(path: Path, repeat: int) -> float:
    from kindfleet.errors import SpecError
    from kindfleet.fleetspec import from_path

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.suppress(SpecError):
            from_path(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    files: dict[str, Callable[[], str]] = {
        "100 spokes": hundred_spokes,
        "5 MB, 45,000 spokes (over the cap)": five_mb_list,
        "5 MB, 100 spokes (50 KB patches each)": lambda: hundred_spokes(patch_bytes=50_000),
    }
    kindfleet = [sys.executable, "-m", "kindfleet"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    header = f"{'command':48} {'size':>9} {'exit':>4} {'wall':>8} {'CPU':>8} {'RSS':>9} {'in-process':>10}"
    print(header)
    wall, cpu, rss, code = run([sys.executable, "-c", "pass"], args.repeat)
    print(
        f"{'python -c pass':48} {'':>9} {code:>4} {wall:7.3f}s {cpu:7.3f}s {rss:6.1f} MiB {'':>10}"
    )
    wall, cpu, rss, code = run([*kindfleet, "--help"], args.repeat)
    print(
        f"{'kindfleet --help (imports)':48} {'':>9} {code:>4} {wall:7.3f}s {cpu:7.3f}s {rss:6.1f} MiB {'':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, make in files.items():
            path = Path(tmp) / "fleet.yaml"
            path.write_text(make())
            size = path.stat().st_size
            wall, cpu, rss, code = run([*kindfleet, "validate", "-f", str(path)], args.repeat)
            inner = in_process(path, args.repeat)
            print(
                f"{'validate ' + label:48} {size / 1e6:8.2f}M {code:>4} {wall:7.3f}s "
                f"{cpu:7.3f}s {rss:6.1f} MiB {inner:9.3f}s"
            )


if __name__ == "__main__":
    main()
