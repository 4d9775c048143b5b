"""The hub's dashboard: `/ui`, HTML rendered by the hub, kept live by htmx.

Why this shape: the hub already holds every fact the dashboard shows, so it renders the
pages itself (Jinja2, autoescaped) and the browser only swaps in fresh fragments (htmx,
about 16 KB gzipped, no build step, vendored from npm at a pinned version with its
license: `scripts/vendor-assets.sh`). Charts are drawn on the hub as SVG (`charts`), so no
chart library runs in the page. The whole front end is templates, one stylesheet, htmx
and a 50-line script of our own; it works offline, ships in the wheel, and needs no
Node toolchain to build. Live updates are polls every 2 s, not a stream: the hub's reads
run on reader threads off the writer, a poll holds no connection between updates (the hub
caps connections, and spokes share the cap), and a poll that fails simply tries again,
which is what lets an open page ride out a hub restart.

The session (`session`) and the door every request passes (`guard`) are what the issue's
"nothing but the login page without the token" rests on.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from kindfleet.platform.hub.service.dashboard import Dashboard
from kindfleet.platform.hub.ui import pages
from kindfleet.platform.hub.ui.guard import PREFIX, UiGuard
from kindfleet.platform.hub.ui.session import Sessions


def install(app: FastAPI, board: Dashboard) -> None:
    """Mount the dashboard's pages and files under `/ui`, behind its guard."""
    sessions = Sessions(board.hub.settings.client_token)
    pages.install(app, board, sessions)
    static = files("kindfleet.platform.hub.ui") / "static"
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(static)), name="ui-static")
    app.add_middleware(UiGuard, sessions=sessions)


__all__ = ["install"]
