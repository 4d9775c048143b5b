r"""Templates: Jinja2 with autoescaping on for everything, undefined names an error.

Every value a page shows may be user data (labels, names, commands, env names, messages a
spoke sent, fault notes): autoescaping is what keeps `<script>` in a label a piece of text.
Nothing is marked safe anywhere; the charts are values the templates draw, not markup.

Escaping keeps markup out, not characters that are never seen: a label `team: "\u202elm"`
showed as `team=ml` (the right-to-left override turned it round), and control characters
from a query (NUL, ESC) went into the page as they came (found from outside). Every value
is shown with its controls, format characters (bidi overrides and isolates, zero-width
characters, tags), lone surrogates and line separators written as `\uXXXX`.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from kindfleet._version import __version__
from kindfleet.platform.hub.ui import format as fmt

_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_WHITESPACE = frozenset("\t\n\r")  # shown as the whitespace they are


def visible(value: Any) -> Any:
    """`value` with the characters a reader cannot see written out as escapes."""
    if not isinstance(value, str) or value.isprintable():
        return value
    return "".join(
        _escape(c) if c not in _WHITESPACE and unicodedata.category(c) in _UNSEEN else c
        for c in value
    )


def _escape(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


_env = Environment(
    finalize=visible,
    loader=PackageLoader("kindfleet.platform.hub.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    cores=fmt.cores,
    size=fmt.size,
    share=fmt.share,
    clock=fmt.clock,
    stamp=fmt.stamp,
    number=fmt.number,
)
_env.globals.update(version=__version__)


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    now = datetime.now(UTC)
    context.setdefault("nav", "")
    body = _env.get_template(template).render(
        now=now, ago=lambda moment: fmt.ago(moment, now), **context
    )
    return HTMLResponse(body, status_code=status)
