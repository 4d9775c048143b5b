"""The load report folder: `report.json` (`lost` and `duplicated` at its top level) and
`report.html`, whose plots (throughput over time, latency histogram, per-spoke bars) are
drawn by matplotlib as SVG inside the page: one file, no script, no network needed."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

from kindfleet.errors import PrerequisiteError
from kindfleet.load.run import LoadResult


def write(result: LoadResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    data = {**result.summary(), "timeline": result.timeline}
    json_path = directory / "report.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    html_path = directory / "report.html"
    html_path.write_text(page(result), encoding="utf-8")
    return [json_path, html_path]


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def plots(result: LoadResult) -> list[tuple[str, str]]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        raise PrerequisiteError(
            "the HTML report needs matplotlib",
            hint="install kindfleet[report] (report.json needs nothing more)",
        ) from None
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
        f"<p>lost <b>{result.lost}</b>, duplicated <b>{result.duplicated}</b></p>"
        f"<table>{rows}</table>{figures}</body></html>\n"
    )
