"""The load report folder: `report.json` (`lost`, `duplicated` and `unchecked` at its top
level) and `report.html`, whose plots (throughput over time, latency histogram, per-spoke
bars) are drawn by matplotlib as SVG inside the page: one file, no script, no network
needed."""

from __future__ import annotations

import html
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from kindfleet.errors import (
    EXIT_FAILED,
    KindfleetError,
    PrerequisiteError,
    UsageError,
    machine_error,
    writing,
)
from kindfleet.load.run import LoadResult

FILES = ("report.json", "report.html")


class ReportError(KindfleetError):
    """The run went to its end and its report could not be written: `result` is the run's
    all the same, for the caller to show (a run of many minutes is not lost to a disk)."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None,
        result: LoadResult,
        written: list[Path],
        exit_code: int,
    ) -> None:
        super().__init__(message, hint=hint)
        self.result = result
        self.written = written
        self.exit_code = exit_code


def ready(directory: Path, *, name: str = "--report") -> None:
    """Refuse, before the run, a report that cannot be written: it is written after the
    run, and `--report /etc/passwd/x` (or no matplotlib for its page) cost a whole run and
    its results. The folder is made now if missing, as the report would make it. `name`:
    what the caller calls the folder in its messages (`--report`, `report=`)."""
    hint = f"give a folder you can write to (it is made if missing), or leave out {name}"
    named = f"{name}{directory}" if name.endswith("=") else f"{name} {directory}"
    in_the_way = next((p for p in (directory, *directory.parents) if p.is_file()), None)
    if in_the_way is not None:
        raise UsageError(
            f"{named}: {in_the_way} is a file; the report is a folder ({' and '.join(FILES)})",
            hint=hint,
        )
    for file in FILES:
        if (directory / file).is_dir():
            raise UsageError(f"{named}: {directory / file} is a folder, not a file", hint=hint)
    _plotter(also=f", or leave out {name}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise UsageError(
            f"{named}: cannot write there ({exc.strerror or exc})", hint=hint
        ) from None


def write(result: LoadResult, directory: Path) -> list[Path]:
    """report.json, then report.html; a failure of either is a `ReportError` that keeps
    the result and names what was written."""
    json_path, html_path = (directory / name for name in FILES)
    written: list[Path] = []
    where = directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
        where = json_path
        data = {**result.summary(), "timeline": result.timeline}
        with writing(json_path):
            json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        written.append(json_path)
        where = html_path
        text = page(result)
        with writing(html_path):
            html_path.write_text(text, encoding="utf-8")
        written.append(html_path)
    except (OSError, KindfleetError) as exc:
        known = exc if isinstance(exc, KindfleetError) else machine_error(exc)
        why = known.message if known else exc.strerror if isinstance(exc, OSError) else exc
        raise ReportError(
            f"report not written: {where}: {why or exc}",
            hint=known.hint if known else None,
            result=result,
            written=written,
            # The run happened: a path refused now is this run's failure (1), not input
            # refused before anything ran (2); a full disk stays the machine's (3).
            exit_code=EXIT_FAILED
            if known is None or isinstance(known, UsageError)
            else known.exit_code,
        ) from exc
    return written


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _plotter(also: str = " (report.json needs nothing more)") -> Any:
    """matplotlib's pyplot, drawing to no screen; a missing matplotlib is a prerequisite."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        raise PrerequisiteError(
            "the HTML report needs matplotlib", hint=f"install kindfleet[report]{also}"
        ) from None
    return plt


def plots(result: LoadResult) -> list[tuple[str, str]]:
    plt = _plotter()
    out = []
    times = [t for t, _, _ in result.timeline]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(times, [a for _, a, _ in result.timeline], label="accepted")
    ax.plot(times, [f for _, _, f in result.timeline], label="finished")
    ax.set_xlabel("seconds since the first submission")
    ax.set_ylabel("workloads")
    ax.legend()
    out.append(("Throughput over time", _svg(fig)))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(result.submit_latency_ms, bins=50, color="tab:blue")
    ax.set_xlabel("submit latency (ms)")
    ax.set_ylabel("submissions")
    out.append(("Submit latency", _svg(fig)))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(result.end_to_end_s, bins=50, color="tab:green")
    ax.set_xlabel("end-to-end latency, submitted to finished (s)")
    ax.set_ylabel("workloads")
    out.append(("End-to-end latency", _svg(fig)))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3))
    names = sorted(result.per_spoke)
    ax.bar(names, [result.per_spoke[n] for n in names], color="tab:orange")
    ax.set_ylabel("workloads")
    out.append(("Per spoke", _svg(fig)))
    plt.close(fig)
    return out


def page(result: LoadResult) -> str:
    summary = result.summary()
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
        for k, v in summary.items()
    )
    figures = "".join(f"<h2>{html.escape(t)}</h2>{svg}" for t, svg in plots(result))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>kindfleet load: {html.escape(result.fleet)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{text-align:left;padding:2px 8px}"
        "</style></head><body>"
        f"<h1>kindfleet load: {html.escape(result.fleet)}</h1>"
        f"<p>lost <b>{result.lost}</b>, duplicated <b>{result.duplicated}</b>"
        f"{_unchecked(result)}</p>"
        f"<table>{rows}</table>{figures}</body></html>\n"
    )


def _unchecked(result: LoadResult) -> str:
    """The page's headline about work the hub could not be asked about, when there is."""
    if not result.unchecked:
        return ""
    why = html.escape(result.unchecked_why or "no answer")
    return (
        f", unchecked <b>{result.unchecked}</b> of {result.accepted} accepted "
        f"(the hub could not be asked: {why})"
    )
