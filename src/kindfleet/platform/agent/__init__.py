"""The spoke agent ("orchestrator"): registers with the hub, renews its lease, long-polls for
assignments, runs them through an executor, and reports back only status and telemetry,
through a durable outbox that survives hub outages and agent crashes.

Run it as `python -m kindfleet.platform.agent --hub URL --name NAME --state-dir DIR
--bootstrap-token-file F`; embed it with `Agent(settings).run(stop_event)`. Tools outside the
agent (the fleet's local provider) use its command line, `python -m
kindfleet.platform.agent.spokectl`, not its modules.

Nothing is imported with the package itself: the launcher and `spokectl` are small
programs inside it that must start fast, without the agent's HTTP and model stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kindfleet.platform.agent.loop import Agent
    from kindfleet.platform.agent.settings import AgentSettings, parse_args

_LAZY = {
    "Agent": "kindfleet.platform.agent.loop",
    "AgentSettings": "kindfleet.platform.agent.settings",
    "parse_args": "kindfleet.platform.agent.settings",
}

__all__ = ["Agent", "AgentSettings", "parse_args"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
