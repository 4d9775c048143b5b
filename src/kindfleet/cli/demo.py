"""`kindfleet demo` (what `make demo` runs): the platform on an embedded local fleet,
drawn live on a terminal and as plain progress lines in a log."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from kindfleet.cli import options, output
from kindfleet.demo.run import DemoResult, run_demo
from kindfleet.errors import KindfleetError
from kindfleet.platform.wire import Workload

_SHOWN = ("loss", "step", "cpu_cores", "rss_bytes")


def _metrics(values: dict[str, float]) -> str:
    parts = []
    for key in _SHOWN:
        if key in values:
            value = values[key]
            text = f"{value / 2**20:.0f}MiB" if key == "rss_bytes" else f"{value:g}"
            parts.append(f"{key.replace('_bytes', '')}={text}")
    return " ".join(parts)


def _table(workloads: Sequence[Workload], latest: dict[str, dict[str, float]]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("WORKLOAD", "STATE", "SPOKE", "ATTEMPT", "GPU", "TELEMETRY"):
        table.add_column(column)
    for w in workloads:
        table.add_row(
            w.spec.name,
            w.state.value,
            w.spoke or "",
            str(w.generation or ""),
            str(w.spec.resources.gpu or ""),
            _metrics(latest.get(w.id, {})),
        )
    return table


class RichView:
    def __init__(self) -> None:
        self._live: Live | None = None
        self._last: str = ""

    def step(self, message: str) -> None:
        self.close()
        output.err.print(f"[bold cyan]▸[/] {message}", highlight=False)

    def progress(self, workloads: Sequence[Workload], latest: dict[str, dict[str, float]]) -> None:
        if output.out.is_terminal:
            if self._live is None:
                self._live = Live(console=output.out, refresh_per_second=8, transient=False)
                self._live.start()
            self._live.update(_table(workloads, latest))
            return
        counts = Counter(w.state.value for w in workloads)
        line = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        if line != self._last:
            self._last = line
            output.out.print(f"  {line}", highlight=False)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def _summary(result: DemoResult) -> None:
    if not output.out.is_terminal:
        output.out.print(_table(result.workloads, result.latest))
    placed: dict[str, list[str]] = defaultdict(list)
    for w in result.workloads:
        for attempt in w.attempts:
            placed[attempt.spoke].append(f"{w.spec.name}#{attempt.generation}")
    output.out.print("\n[bold]Where each went[/] (name#attempt):")
    for spoke, names in sorted(placed.items()):
        output.out.print(f"  {spoke}: {', '.join(names)}", highlight=False)
    retried = [w for w in result.workloads if w.retries_used]
    for w in retried:
        output.out.print(
            f"  retried: {w.spec.name} failed on attempt 1, then {w.state.value} "
            f"on attempt {w.generation}",
            highlight=False,
        )
    for wid, answer in result.explanations.items():
        expired = next((x for x in result.workloads if x.id == wid), None)
        if expired is not None and expired.state.value == "Expired":
            summary = escape(output.printable(answer.summary))  # the hub's words, as written
            output.out.print(f"\n[bold]Why {expired.spec.name} never ran[/]: {summary}")
            for verdict in answer.considered:
                why = output.printable("; ".join(verdict.reasons) or "fits")
                output.out.print(f"  {verdict.spoke}: {why}", highlight=False, markup=False)
    losses = {
        w.spec.name: result.latest[w.id]["loss"]
        for w in result.workloads
        if "loss" in result.latest.get(w.id, {}) and w.spec.name.startswith("train")
    }
    if losses:
        shown = ", ".join(f"{n} {v:.3f}" for n, v in losses.items())
        output.out.print(f"\n[bold]Final training loss[/] (telemetry): {shown}", highlight=False)
    states = ", ".join(f"{n} {s}" for s, n in sorted(result.by_state.items()))
    output.out.print(
        f"\n{result.submitted} submitted: {states}; lost: {result.lost}; "
        f"{result.seconds:.1f}s in all",
        highlight=False,
    )


def demo(
    *,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the fleet running afterwards.")
    ] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the fleet keeps its state (default: a temp dir).",
            parser=options.path_of("--state-dir"),
        ),
    ] = None,
    scale: Annotated[int, typer.Option(min=1, max=20, help="Multiply the plain CPU/GPU work.")] = 1,
    timeout: Annotated[
        float,
        typer.Option(help="Stop following after SECONDS.", parser=options.positive_of("--timeout")),
    ] = 25.0,
) -> None:
    """Run the platform on an embedded local fleet: a hub and 3 spokes (one with 2 GPUs) as
    local processes, a mix of CPU and GPU work placed by labels and free capacity, live
    telemetry, retries, and `explain` for what cannot run; then tear it all down.

    No Docker needed: this is not Kubernetes, it is the same hub and agent programs as
    processes. For real clusters: `kindfleet up` with provider kind.
    """
    view = RichView()
    try:
        result = run_demo(view, state_dir=state_dir, keep=keep, scale=scale, timeout=timeout)
    finally:
        view.close()
    _summary(result)
    if result.lost:
        raise KindfleetError(
            f"{result.lost} accepted workloads did not finish",
            hint="re-run with --keep and inspect `kindfleet workloads`",
        )
