"""The one door of the dashboard: every `/ui` request passes here before any route.

Without a valid session nothing but the login page (and the static files it is drawn
with: a stylesheet and scripts, no data) is served: a page asked for is answered with a
redirect to the login page, a live update (htmx) with 401 and `HX-Redirect`, so a page
whose session ran out goes to the login page by itself. Checking here, before routing,
makes that true of every path under `/ui`, also of routes added later.

Every answer under `/ui` carries the headers that keep the pages to themselves: a
Content-Security-Policy without `unsafe-inline` or `unsafe-eval` (scripts and styles only
from the hub's own files; htmx is configured to need neither), no framing, no sniffing,
no referrer, and no caching of pages that hold the fleet's data.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kindfleet.platform.hub.ui.session import Sessions

PREFIX = "/ui"
LOGIN = f"{PREFIX}/login"
STATIC = f"{PREFIX}/static/"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def is_ui(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def safe_next(target: str | None) -> str:
    """Where to go after login: a dashboard path of this hub, else the fleet page."""
    if (
        target
        and target.startswith(PREFIX + "/")
        and not target.startswith(STATIC)
        and "//" not in target
        and "\\" not in target
        and all(32 < ord(c) < 127 for c in target)
    ):
        return target
    return PREFIX + "/"


def same_origin(request: Request) -> bool:
    """A POST from one of the hub's own pages (or from no page at all: a script).

    Browsers say where a request comes from in `Sec-Fetch-Site`; with the pages'
    `no-referrer` policy their `Origin` is "null", so Origin is only the fallback, for
    browsers that do not send Sec-Fetch-Site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


class UiGuard:
    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_ui(scope["path"]):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        static = path.startswith(STATIC)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"cache-control"]
                headers += HEADERS
                headers.append((b"cache-control", b"no-cache" if static else b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        request = Request(scope)
        if (
            static
            or path == LOGIN
            or self.sessions.valid(request.cookies.get(self.sessions.cookie))
        ):
            await self.app(scope, receive, send_with_headers)
            return
        await refuse(request)(scope, receive, send_with_headers)


def refuse(request: Request) -> Response:
    """No session: the login page, the way the asker can follow."""
    if request.headers.get("hx-request") == "true":  # a live update: back to its page after
        page = urlsplit(request.headers.get("hx-current-url", ""))
        wanted = page.path + (f"?{page.query}" if page.query else "")
        return PlainTextResponse(
            "log in again", status_code=401, headers={"HX-Redirect": _login(wanted)}
        )
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = _login(wanted)
    if request.method in ("GET", "HEAD"):
        return RedirectResponse(login, status_code=303)
    return PlainTextResponse("log in first", status_code=401)


def _login(wanted: str) -> str:
    return f"{LOGIN}?next={quote(safe_next(wanted), safe='/')}"
