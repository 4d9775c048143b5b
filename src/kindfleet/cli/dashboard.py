"""`kindfleet dashboard`: the URL of the hub's dashboard, opened in a browser when there
is one to open it in.

The URL never holds the client token (it would end up in the browser's history and in
logs): the dashboard's login page asks for it once. `--show-token` prints it for pasting.
A browser is opened only where a graphical one can run (a desktop session, macOS,
Windows, or $BROWSER set): on a server, `webbrowser` would start a console browser that
takes over the terminal, so there the URL is printed and nothing else happens.
"""

from __future__ import annotations

import os
import sys
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption


def can_open(env: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether a graphical browser can be opened from here."""
    env = dict(os.environ) if env is None else env
    if platform in ("darwin", "win32") or env.get("BROWSER"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def dashboard(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    browser: Annotated[
        bool,
        typer.Option(
            "--open/--no-open",
            help="Open it in a browser (when there is a graphical one); --no-open only "
            "prints the URL.",
        ),
    ] = True,
    show_token: Annotated[
        bool,
        typer.Option("--show-token", help="Also print the client token the login page asks."),
    ] = False,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(
            "--kubeconfig",
            help="Kubeconfig with the clusters' contexts.",
            parser=options.path_of("--kubeconfig"),
        ),
    ] = None,
) -> None:
    """Open the hub's dashboard (or print its URL when there is no browser).

    The spokes' health and capacity, workloads live, a run's attempts and telemetry
    charts, throughput, and the faults in progress. The login page asks for the client
    token once (`--show-token` prints it)."""
    url, token = options.fleet(file).dashboard(kubeconfig=kubeconfig)
    typer.echo(url)
    if show_token:
        typer.echo(token)
    else:
        output.info(
            f"log in with the fleet's client token (`kindfleet dashboard -f {file} --show-token`)"
        )
    if browser and can_open() and webbrowser.open(url):
        output.info("opened in your browser")
