"""Who the agent is to the hub: its spoke credential, obtained once with the bootstrap token
and reused across restarts (kept 0600 in the state directory). When the hub stops accepting
it (401/403: revoked, or the hub's store was reset), the agent registers again. The
bootstrap token file is read at each registration, so an operator can rotate it without
restarting the agent.
"""

from __future__ import annotations

import asyncio

from kindfleet._version import __version__
from kindfleet.platform.agent import logs
from kindfleet.platform.agent.hubclient import HubClient
from kindfleet.platform.agent.settings import AgentSettings
from kindfleet.platform.agent.state import CredentialFile
from kindfleet.platform.wire import RegisterRequest

log = logs.get("session")


class BootstrapTokenMissing(Exception):
    pass


class Session:
    def __init__(self, settings: AgentSettings, client: HubClient) -> None:
        self.settings = settings
        self.client = client
        self.file = CredentialFile(settings.credential_path)
        self.credential: str | None = self.file.load()
        logs.redact(self.credential)
        self.ready = asyncio.Event()  # set while there is a credential to use
        self.kick = asyncio.Event()  # wakes the heartbeat loop (e.g. to register at once)
        self.heartbeat_seconds = 2.0
        if self.credential:
            self.ready.set()

    def bootstrap_token(self) -> str:
        try:
            token = self.settings.bootstrap_token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise BootstrapTokenMissing(
                f"cannot read the bootstrap token file {self.settings.bootstrap_token_file}:"
                f" {exc.strerror}"
            ) from None
        if not token:
            raise BootstrapTokenMissing(
                f"the bootstrap token file {self.settings.bootstrap_token_file} is empty"
            )
        logs.redact(token)
        return token

    async def register(self) -> None:
        """Register with the bootstrap token; raises the client's HubError on failure."""
        s = self.settings
        request = RegisterRequest(
            name=s.name,
            labels=s.labels,
            capacity=s.capacity,
            executor="kubernetes" if s.executor == "kubernetes" else "process",
            agent_version=__version__,
        )
        answer = await self.client.register(self.bootstrap_token(), request)
        logs.redact(answer.credential)
        self.file.save(answer.credential)
        self.credential = answer.credential
        self.heartbeat_seconds = answer.heartbeat_seconds
        self.ready.set()
        log.info(
            "registered as %s (heartbeat every %gs, lost after %gs)",
            answer.spoke,
            answer.heartbeat_seconds,
            answer.lost_after_seconds,
        )

    def invalidate(self, used: str | None) -> None:
        """The hub refused `used`; forget it (unless it was already replaced) and re-register."""
        if used is None or used != self.credential:
            return
        log.warning("the hub no longer accepts this spoke's credential; registering again")
        self.credential = None
        self.file.clear()
        self.ready.clear()
        self.kick.set()
