"""The spoke agent ("orchestrator"): registers with the hub, renews its lease, long-polls for
assignments, runs them through an executor, and reports back only status and telemetry,
through a durable outbox that survives hub outages and agent crashes.

Run it as `python -m kindfleet.platform.agent --hub URL --name NAME --state-dir DIR
--bootstrap-token-file F`; embed it with `Agent(settings).run(stop_event)`.
"""

from __future__ import annotations

from kindfleet.platform.agent.loop import Agent
from kindfleet.platform.agent.orphans import kill_orphans
from kindfleet.platform.agent.settings import AgentSettings, parse_args

__all__ = ["Agent", "AgentSettings", "kill_orphans", "parse_args"]
