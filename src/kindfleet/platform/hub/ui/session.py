"""The dashboard's session: the client token is given once, at login, and the browser then
holds a session cookie derived from it, never the token itself.

Why a cookie and not the token in sessionStorage: the pages are rendered by the hub, so a
plain navigation must carry the proof, which only a cookie does; and an HttpOnly cookie
cannot be read by script, so even a script injected into a page could not carry the token
away (sessionStorage can be read by any script of the origin). Its CSRF exposure is
closed by `SameSite=Strict` (no other site's page makes the browser send it), by the
dashboard being read-only (every request that carries it is a GET without effects), and
by an Origin check on the two POSTs (login, logout).

The cookie is `v1.<expires>.<nonce>.<mac>`, the mac an HMAC-SHA256 under a key derived
from the client token. Nothing is kept on the hub: a restarted hub with the same client
token accepts the sessions it gave out, so a page left open recovers on its own; a new
client token ends every session at once. The session ends with the browser's session (no
Max-Age) or after `TTL_SECONDS`, whichever comes first.

The cookie's name is the hub's own (`kf_session_<12 hex>`, from the same key): browsers
keep cookies per host, not per port, so two local fleets' dashboards on 127.0.0.1 under
one name each replaced the other's session at every login (found from outside).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

COOKIE_PREFIX = "kf_session_"
TTL_SECONDS = 12 * 3600
_VERSION = "v1"


class Sessions:
    def __init__(self, client_token: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(
            client_token.encode("utf-8", "surrogatepass"), b"kindfleet-ui-session", "sha256"
        ).digest()
        self._clock = clock
        self.cookie = COOKIE_PREFIX + hmac.new(self._key, b"cookie-name", "sha256").hexdigest()[:12]

    def issue(self) -> str:
        expires = int(self._clock() + TTL_SECONDS)
        body = f"{_VERSION}.{expires}.{secrets.token_urlsafe(18)}"
        return f"{body}.{self._mac(body)}"

    def valid(self, value: str | None) -> bool:
        """A session this hub's client token signed, not expired."""
        if not value or len(value) > 200:
            return False
        body, _, mac = value.rpartition(".")
        parts = body.split(".")
        if len(parts) != 3 or parts[0] != _VERSION or not parts[1].isdigit():
            return False
        if not hmac.compare_digest(mac, self._mac(body)):
            return False
        return int(parts[1]) > self._clock()

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode("ascii", "replace"), hashlib.sha256).hexdigest()
