"""Templates: Jinja2 with autoescaping on for everything, undefined names an error.

Every value a page shows may be user data (labels, names, commands, env names, messages a
spoke sent, fault notes): autoescaping is what keeps `<script>` in a label a piece of text.
Nothing is marked safe anywhere; the charts are values the templates draw, not markup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from kindfleet._version import __version__
from kindfleet.platform.hub.ui import format as fmt

_env = Environment(
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
