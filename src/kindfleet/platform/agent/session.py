"""Who the agent is to the hub: its spoke credential, obtained once with a join token and
reused across restarts (kept 0600 in the state directory). When the hub stops accepting it
(401/403: revoked, or the hub's store was reset), the agent registers again, naming the
store it remembers: a hub whose store was lost refuses it (409) and the agent keeps its
runs and its outbox until the store is restored (or `spokectl forget-hub`). The token file
(`--bootstrap-token-file`: a join token minted for this spoke, `kindfleet spokes token
NAME`, or in development the fleet token) is read at each registration, so an operator can
hand the agent a new one without restarting it.

Join tokens are single use, so the agent chooses its credential itself and keeps it
before it registers: if the hub's answer is lost, the credential the hub stored is
already on disk, and the agent finds it accepted instead of spending a second token.
"""

from __future__ import annotations

import asyncio
import secrets

from kindfleet._version import __version__
from kindfleet.platform.agent import logs, paths
from kindfleet.platform.agent.hubclient import HubClient, HubError, HubUnauthorized
from kindfleet.platform.agent.settings import AgentSettings
from kindfleet.platform.agent.state import CredentialFile
from kindfleet.platform.wire import HeartbeatRequest, RegisterRequest

log = logs.get("session")


class BootstrapTokenMissing(Exception):
    pass


class Session:
    def __init__(self, settings: AgentSettings, client: HubClient) -> None:
        self.settings = settings
        self.client = client
        self.file = CredentialFile(settings.credential_path)
        # The credential offered at the last registration, kept until the hub's answer.
        self.offered = CredentialFile(
            settings.credential_path.with_name(settings.credential_path.name + ".offered")
        )
        # The id of the hub's store, remembered from the first registration (issue 14).
        self.store = CredentialFile(settings.state_dir / paths.HUB_STORE)
        self.credential: str | None = self.file.load()
        # The credential the hub stopped accepting, kept (and tried again) until another
        # replaces it: a hub whose store is restored from a backup knows it again.
        self.previous: str | None = self.credential
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
        """Register with the token file's token; raises the client's HubError on failure
        (HubRefused with status 409: the name is live under another agent)."""
        s = self.settings
        offered = self.offered.load() or secrets.token_urlsafe(32)
        logs.redact(offered)
        self.offered.save(offered)
        request = RegisterRequest(
            name=s.name,
            labels=s.labels,
            capacity=s.capacity,
            executor="kubernetes" if s.executor == "kubernetes" else "process",
            agent_version=__version__,
            credential=offered,
        )
        remembered = self.store.load()
        try:
            answer = await self.client.register(self.bootstrap_token(), request, store=remembered)
        except HubUnauthorized:
            if await self._accepted(offered):  # an earlier answer was lost on the way
                self._adopt(offered)
                log.info("registered as %s (the hub's earlier answer was lost)", s.name)
                return
            if self.previous and await self._accepted(self.previous):
                self._adopt(self.previous)  # the hub's store was restored from a backup
                log.info("registered as %s (the hub accepts this spoke's credential again)", s.name)
                return
            raise
        if answer.store_id and not remembered:
            self.store.save(answer.store_id)
        self._adopt(answer.credential)
        self.heartbeat_seconds = answer.heartbeat_seconds
        log.info(
            "registered as %s (heartbeat every %gs, lost after %gs)%s",
            answer.spoke,
            answer.heartbeat_seconds,
            answer.lost_after_seconds,
            ""
            if answer.approved
            else "; awaiting approval: no work until an operator runs "
            f"`kindfleet spokes approve {answer.spoke}`",
        )

    async def _accepted(self, credential: str) -> bool:
        try:
            request = HeartbeatRequest(capacity=self.settings.capacity)
            await self.client.heartbeat(self.settings.name, credential, request)
        except HubError:
            return False
        return True

    def _adopt(self, credential: str) -> None:
        logs.redact(credential)
        self.file.save(credential)
        self.offered.clear()
        self.credential = credential
        self.ready.set()

    def retired(self, used: str | None) -> bool:
        """The hub took `used` back for good (410): never offered again, not even as the
        `previous` one a restored store might know. Whether it was the current one."""
        if used is None or used != self.credential:
            return False
        self.previous = self.credential = None
        self.file.clear()
        self.ready.clear()
        self.kick.set()
        return True

    def invalidate(self, used: str | None) -> None:
        """The hub refused `used`; forget it (unless it was already replaced) and re-register."""
        if used is None or used != self.credential:
            return
        log.warning("the hub no longer accepts this spoke's credential; registering again")
        self.previous, self.credential = self.credential, None
        self.ready.clear()
        self.kick.set()
