"""A small training-like job for the demo: it "trains" for a few steps, reports loss and
throughput as platform metrics, uses the GPUs it was given (by id), and saves a
checkpoint to its output directory, which stays on the spoke.

    python -m kindfleet.demo.train --steps 20 --step-seconds 0.1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--step-seconds", type=float, default=0.1)
    parser.add_argument(
        "--fail-first-attempts",
        type=int,
        default=0,
        help="fail while the attempt (generation) is at most this, to show retries",
    )
    args = parser.parse_args()

    generation = int(os.environ.get("KINDFLEET_GENERATION", "1"))
    gpus = [g for g in os.environ.get("KINDFLEET_GPU_IDS", "").split(",") if g]
    metrics = Path(os.environ.get("KINDFLEET_METRICS_FILE", os.devnull))
    out = Path(os.environ.get("KINDFLEET_OUTPUT_DIR", "."))
    print(f"training on {'gpus ' + ','.join(gpus) if gpus else 'cpu'} (attempt {generation})")
    if generation <= args.fail_first_attempts:
        time.sleep(args.step_seconds * 3)
        print("simulated failure: the data loader lost its connection")
        raise SystemExit(3)

    rng = random.Random(hash(os.environ.get("KINDFLEET_WORKLOAD_ID", "")))
    loss = 2.5 + rng.random()
    with metrics.open("a") as sink:
        for step in range(1, args.steps + 1):
            started = time.perf_counter()
            _work(args.step_seconds)
            loss *= 0.9 + 0.04 * rng.random()
            rate = 1 / max(time.perf_counter() - started, 1e-6)
            sink.write(
                json.dumps({"step": step, "loss": round(loss, 4), "steps_per_s": round(rate, 2)})
                + "\n"
            )
            sink.flush()
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoint.json").write_text(json.dumps({"loss": loss, "steps": args.steps}))
    print(f"done: loss {loss:.4f} after {args.steps} steps")


def _work(seconds: float) -> None:
    """Burn some cpu, as a step of real training would, for about `seconds`."""
    end = time.perf_counter() + seconds
    x = 0.0
    while time.perf_counter() < end:
        x += math.sqrt(x + 1.0)


if __name__ == "__main__":
    main()
