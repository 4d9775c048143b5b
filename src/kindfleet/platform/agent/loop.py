"""The agent's four concurrent duties, each an asyncio task that survives any failure of the
hub: heartbeat (lease renewal, registration, the hub's `stop` list), long-poll (new work and
cancels), flush (the outbox, in order, deleted only through what the hub acknowledged) and
telemetry (a sample of every run and of the spoke, into the outbox).

The rule that shapes all four: an unreachable hub changes nothing about the work. Runs go
on, reports pile up in the outbox, and the loops retry with capped, jittered backoff. Only
the hub's explicit word (cancel, stop, a refused report) or the agent's own shutdown stops a
run.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from kindfleet.errors import KindfleetError, PrerequisiteError, UsageError
from kindfleet.platform.agent import logs, prune, reports
from kindfleet.platform.agent.answers import HubAnswers
from kindfleet.platform.agent.backoff import Backoff
from kindfleet.platform.agent.db import AgentDb
from kindfleet.platform.agent.executors.base import Executor
from kindfleet.platform.agent.executors.factory import make_executor
from kindfleet.platform.agent.hubclient import (
    HubClient,
    HubError,
    HubRefused,
    HubRetired,
    HubUnauthorized,
)
from kindfleet.platform.agent.lock import StateLock
from kindfleet.platform.agent.outbox import FLUSH_BATCH, FLUSH_SPACING
from kindfleet.platform.agent.paths import PRIVATE_DIR, SPOKE_NAME
from kindfleet.platform.agent.prune import Pruner
from kindfleet.platform.agent.records import Records, journal
from kindfleet.platform.agent.runs import RunManager
from kindfleet.platform.agent.session import BootstrapTokenMissing, Session
from kindfleet.platform.agent.settings import AgentSettings
from kindfleet.platform.agent.state import CredentialFile
from kindfleet.platform.agent.waiting import cancel_all, wait_event
from kindfleet.platform.health import mark_alive
from kindfleet.platform.wire import Capacity, HeartbeatRequest, SpokeHealth

NO_CAPACITY = Capacity(cpu_millis=0, memory_bytes=0, gpus=0)
LEAVING_SECONDS = 3.0  # how long a stopping agent tries to tell the hub it takes no more work

log = logs.get("loop")


class Reachability:
    """Says once that the hub is gone and once that it is back, not on every retry."""

    def __init__(self) -> None:
        self.down_since: str | None = None

    def failed(self, what: str, exc: Exception, pending: int) -> None:
        if self.down_since is None:
            self.down_since = what
            log.warning(
                "hub unreachable (%s: %s); runs continue, reports are kept (%d in the outbox)",
                what,
                exc,
                pending,
            )
        else:
            log.debug("hub still unreachable (%s: %s)", what, exc)

    def ok(self) -> None:
        if self.down_since is not None:
            log.info("hub reachable again")
            self.down_since = None


class Agent:
    def __init__(
        self,
        settings: AgentSettings,
        *,
        executor: Executor | None = None,
        client: HubClient | None = None,
    ) -> None:
        self.settings = settings
        self.executor = executor or make_executor(settings)
        self.client = client or HubClient(settings.hub, request_timeout=settings.request_timeout)
        self.reach = Reachability()
        self.answers = HubAnswers()  # exclusive runs count their lease from these
        self._heard = asyncio.Event()  # the first heartbeat was answered, or failed
        self._flush_wake = asyncio.Event()
        self._health: SpokeHealth | None = None
        self._stop = asyncio.Event()
        self._state_lost = False
        self._cordoned = False

    def offer(self, capacity: Capacity) -> None:
        """Capacity learnt after the start (a cluster's nodes unreadable then): offered
        from the next heartbeat on; the runs held keep what they hold."""
        self.settings = replace(self.settings, capacity=capacity)
        runs: RunManager | None = getattr(self, "runs", None)
        if runs is not None:
            runs.ledger.resize(capacity)

    async def run(self, stop: asyncio.Event) -> None:
        """Recover, work until `stop` is set, then shut down gracefully. Raises StateLost
        (after that shutdown) when the state directory went from under the agent."""
        lock = self.lock = StateLock(self.settings.state_dir)
        self._stop = stop
        try:
            _prepare(self.settings)
            lock.acquire()
            _bind_name(self.settings)
            self.db = AgentDb(self.settings.db_path)
            self.journal = journal(self.db)
            try:
                self.session = Session(self.settings, self.client)
                self.records = Records(self.db, self.journal, reported=self._flush_wake.set)
                self.runs = RunManager(self.settings, self.executor, self.records, self.answers)
                await self._serve(stop)
            finally:
                await self.journal.close()
                self.db.close()
        finally:
            await self.executor.close()  # its runs are gone before another agent may start
            lock.release()
            await self.client.aclose()
        if self._state_lost:
            raise StateLost(
                f"the state directory {self.settings.state_dir} was removed or replaced while "
                "the agent ran: what it wrote there is gone, so it stopped (its runs were "
                "stopped and reported)",
                hint="start it again to join afresh with a new join token (`kindfleet up` "
                "repairs a local spoke; `kindfleet spokes token NAME` mints one)",
            )

    async def _serve(self, stop: asyncio.Event) -> None:
        if not await _until_stopped(self.runs.recover(self._heard), stop):
            log.warning("stopped before the runs of the last agent were recovered")
            return
        log.info(
            "agent %s up: %d run(s) held, %d report(s) in the outbox",
            self.settings.name,
            len(self.runs.runs),
            self.records.pending(),
        )
        duties = [
            asyncio.create_task(self._heartbeats(), name="heartbeat"),
            asyncio.create_task(self._polls(), name="poll"),
            asyncio.create_task(self._telemetry(), name="telemetry"),
        ]
        if self.settings.run_retention_seconds > 0:
            duties.append(asyncio.create_task(self._prunes(), name="prune"))
        flusher = asyncio.create_task(self._flushes(), name="flush")
        await stop.wait()
        log.info("stopping: runs are stopped and reported, then the outbox is flushed")
        await cancel_all(duties)
        await self._leaving()
        await self.runs.shutdown(timeout=self.settings.stop_grace_seconds + 15)
        await cancel_all([flusher])
        await self._final_flush()

    # ------------------------------------------------------------------ duties

    async def _heartbeats(self) -> None:
        backoff = Backoff(cap=self.settings.backoff_max)
        while True:
            # Never slower than the heartbeat itself (no more load than a live spoke's): a
            # hub that comes back hears every spoke well inside its loss window.
            backoff.cap = min(self.settings.backoff_max, self.session.heartbeat_seconds)
            try:
                delay = await self._heartbeat_once(backoff)
                if not self.lock.held():
                    log.critical("the state directory was removed or replaced: stopping")
                    self._state_lost = True
                    self._stop.set()
                    return
                mark_alive(self.settings.state_dir)
            except Exception:  # this task's end is the spoke's silence: the hub judges it lost
                log.exception("the heartbeat failed unexpectedly")
                delay = backoff.next_delay()
            self._heard.set()  # answered or failed: recovered runs wait no longer
            self.session.kick.clear()
            await wait_event(self.session.kick, delay)

    async def _heartbeat_once(self, backoff: Backoff) -> float:
        """One lease renewal (registering first if needed); how long until the next."""
        session = self.session
        credential = session.credential
        fresh = credential is None
        try:
            if credential is None:
                await session.register()
                credential = session.credential
                assert credential is not None
            request = HeartbeatRequest(capacity=self._capacity(), held=self.runs.held())
            sent = self.answers.clock()
            answer = await self.client.heartbeat(self.settings.name, credential, request)
            self.answers.answered(sent)
        except HubRetired as exc:
            await self._retired(credential, exc)
            return backoff.next_delay()
        except HubUnauthorized as exc:
            if credential is None:
                log.error("the hub refused the bootstrap token (%s); retrying", exc)
                return backoff.next_delay()
            session.invalidate(credential)
            return backoff.next_delay() if fresh else 0.0  # register again (not in a spin)
        except (HubError, BootstrapTokenMissing) as exc:
            self._failed("heartbeat", exc)
            return backoff.next_delay()
        except Exception:
            log.exception("heartbeat failed unexpectedly")
            return backoff.next_delay()
        self.reach.ok()
        backoff.reset()
        if answer.health != self._health:
            log.info("hub reports this spoke %s", answer.health.value)
            self._health = answer.health
        self.runs.apply_stop(answer.stop)
        session.heartbeat_seconds = answer.heartbeat_seconds
        return max(answer.heartbeat_seconds, 0.05)

    async def _polls(self) -> None:
        backoff = Backoff(cap=self.settings.backoff_max)
        while True:
            await self.session.ready.wait()
            credential = self.session.credential
            if credential is None:
                continue
            asked = time.monotonic()
            try:
                batch = await self.client.assignments(
                    self.settings.name, credential, wait=self.settings.poll_wait
                )
                if self.session.credential != credential:
                    # Taken back (410) or replaced while the answer was on its way: the work
                    # was handed to a credential the hub has since moved it from; taken now,
                    # it would run beside its new copy (found from outside). What is still
                    # this spoke's is sent again to its new credential.
                    log.info("dropped a poll answer for a credential no longer in use")
                    continue
                acted = await self.runs.take(batch.items)
            except HubRetired as exc:
                await self._retired(credential, exc)
                continue
            except HubUnauthorized:
                self.session.invalidate(credential)
                continue
            except HubError as exc:
                self._failed("assignments", exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            except Exception:
                log.exception("taking assignments failed unexpectedly")
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            if batch.items and not acted:  # only redeliveries: let our reports reach the hub
                await asyncio.sleep(min(0.5, self.settings.flush_interval))
            elif not batch.items and time.monotonic() - asked < 0.05:
                await asyncio.sleep(0.2)  # an empty answer at once (a hub shutting down)

    async def _flushes(self) -> None:
        backoff = Backoff(cap=self.settings.backoff_max)
        loop = asyncio.get_running_loop()
        last = -FLUSH_SPACING
        while True:
            await wait_event(self._flush_wake, self.settings.flush_interval)
            if (pause := last + FLUSH_SPACING - loop.time()) > 0:
                await asyncio.sleep(pause)  # what is committed meanwhile goes in this post
            last = loop.time()
            self._flush_wake.clear()
            await self.session.ready.wait()
            credential = self.session.credential
            try:
                await self.flush()
            except HubRetired as exc:
                await self._retired(credential, exc)
            except HubUnauthorized:
                self.session.invalidate(credential)
            except HubError as exc:
                self._failed("events", exc)
                await asyncio.sleep(backoff.next_delay())
            except Exception:
                log.exception("flushing the outbox failed unexpectedly")
                await asyncio.sleep(backoff.next_delay())
            else:
                backoff.reset()

    async def _retired(self, credential: str | None, exc: HubRetired) -> None:
        """The hub took this spoke's credential back (removed, or its name registered by
        another agent) and has moved the work it held: cut off meanwhile, this agent would
        otherwise run it on beside its new copy, for ever (it can no longer heartbeat, so
        no `stop` reaches it). Every run is stopped, nothing of them reported; the agent
        registers again with its token file, as a new spoke."""
        if not self.session.retired(credential):
            return  # another duty heard it first
        stopped = self.runs.retire_all()
        log.error(  # written before the stops take effect: the reason comes first
            "%s. Stopping %d run(s) and dropping the reports waiting; registering again "
            "with the token file (%s)",
            exc,
            stopped,
            self.settings.bootstrap_token_file,
        )
        await self.runs.acked(self.records.last_seq())  # no report of them is wanted

    async def flush(self) -> None:
        """Send the outbox in seq order, batch after batch, until it is empty or the hub
        acknowledges less than was sent. Raises HubError."""
        while True:
            entries = self.records.entries(FLUSH_BATCH)
            credential = self.session.credential
            if not entries or credential is None:
                return
            ack = await self.client.post_events(
                self.settings.name, credential, reports.batch(entries)
            )
            self.reach.ok()
            top = entries[-1].seq
            if ack.acked_through > top:  # every entry sent was taken for a redelivery
                shift = await self.records.renumber_above(ack.acked_through)
                log.warning(
                    "the hub has applied this spoke's reports up to seq %d, this state "
                    "directory's only up to %d: it is older than the hub's record (restored "
                    "from a copy?); its %d waiting report(s) are numbered again (+%d) and sent",
                    ack.acked_through,
                    top,
                    self.records.pending(),
                    shift,
                )
                continue
            through = ack.acked_through
            await self.runs.acked(through)
            if ack.refused:
                self.runs.refused(ack.refused, entries)
            if through < top or len(entries) < FLUSH_BATCH:
                return

    def _capacity(self) -> Capacity:
        """What the hub may place here: nothing while the disk refuses the database's writes
        or the runs' files (work placed here would only wait for the disk, unaccepted or
        unstarted), like a cordoned node."""
        cordoned = self.journal.refusing or self.runs.waiting_for_room
        if cordoned != self._cordoned:
            self._cordoned = cordoned
            if cordoned:
                log.warning("offering the hub no capacity while the disk has no room")
            else:
                log.info("offering the hub this spoke's capacity again")
        return NO_CAPACITY if cordoned else self.settings.capacity

    def _failed(self, what: str, exc: Exception) -> None:
        if isinstance(exc, HubRefused | BootstrapTokenMissing):
            log.error("%s: %s; retrying", what, exc)  # a configuration or contract problem
        else:
            self.reach.failed(what, exc, self.records.pending())

    async def _telemetry(self) -> None:
        while True:
            await asyncio.sleep(self.settings.telemetry_seconds)
            try:
                await self.runs.sample()
            except Exception:
                log.exception("sampling telemetry failed")

    async def _prunes(self) -> None:
        retention = self.settings.run_retention_seconds
        pruner = Pruner(self.settings.runs_dir, retention, self.records, self.runs.holds)
        while True:
            try:
                if await pruner.run_once() and pruner.behind:  # a backlog: on at once
                    continue
            except Exception:
                log.exception("removing old run directories failed")
            await asyncio.sleep(prune.every(retention))

    async def _leaving(self) -> None:
        """Tell the hub, before the runs are stopped and reported, that this spoke takes no
        more work: their retries were placed back here, on a spoke still Ready, and sent to
        the poll the agent had just closed, so the stopped spoke held work it was "handed"
        and could not be removed. Bounded: a hub that does not answer is not waited for."""
        credential = self.session.credential
        if credential is None:
            return
        request = HeartbeatRequest(capacity=NO_CAPACITY, held=self.runs.held())
        try:
            async with asyncio.timeout(LEAVING_SECONDS):
                await self.client.heartbeat(self.settings.name, credential, request)
        except (HubError, TimeoutError) as exc:
            log.info("could not tell the hub this spoke is stopping (%s)", str(exc) or "no answer")

    async def _final_flush(self) -> None:
        # What the cancelled duties submitted (a telemetry sample, an answer) is committed
        # after they were cancelled: wait for it, or it stays for the next start unsent. Both
        # waits are bounded: a database the disk refuses would hold the stop for ever.
        try:
            async with asyncio.timeout(self.settings.shutdown_flush_seconds):
                await self.journal.settled()
                if not self.records.pending() or self.session.credential is None:
                    return
                await self.flush()
        except (HubError, TimeoutError) as exc:
            log.warning(
                "%d report(s) stay in the outbox for the next start (%s)",
                self.records.pending(),
                str(exc) or "out of time",
            )


async def _until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Do `work`, unless `stop` is set first (then cancel it): whether it was done. A start
    on a full disk waits in recovery for the disk, and must still stop when told to."""
    task = asyncio.create_task(work)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
    done = task.done()
    await cancel_all([task, stopping])
    if done:
        task.result()  # its error, if any
    return done


class StateLost(KindfleetError):
    """The agent's state directory is no longer the one it locked."""


def _bind_name(settings: AgentSettings) -> None:
    """A state directory is one spoke's: its credential, its runs and the reports in its
    outbox are that spoke's. Started under another name on it, an agent reported the old
    spoke's runs as the new one's (the hub refused them: the work stayed Running on the
    old spoke until that one was declared lost) and offered the old credential as the new
    spoke's. The name is written at the first start and held to after."""
    record = CredentialFile(settings.state_dir / SPOKE_NAME)
    owner = record.load()
    if owner is None:
        record.save(settings.name)
    elif owner != settings.name:
        raise UsageError(
            f"the state directory {settings.state_dir} belongs to spoke {owner}, not "
            f"{settings.name}: its credential, runs and reports are {owner}'s",
            hint=f"give {settings.name} a --state-dir of its own, or start it as {owner}",
        )


def _prepare(settings: AgentSettings) -> None:
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        os.chmod(settings.state_dir, PRIVATE_DIR)
        settings.runs_dir.mkdir(exist_ok=True, mode=PRIVATE_DIR)
        if settings.runs_dir.is_symlink():  # a run's doing: chmod, runs, pruning would follow it
            raise PrerequisiteError(
                f"{settings.runs_dir} is a symbolic link, not the agent's own directory of runs",
                hint=f"remove the link (and put back what it replaced) under {settings.state_dir}",
            )
        os.chmod(settings.runs_dir, PRIVATE_DIR)
    except OSError as exc:
        raise PrerequisiteError(
            f"cannot use the state directory {settings.state_dir}: {exc.strerror}",
            hint="give --state-dir a directory this user can create and write",
        ) from None
