"""`python -m kindfleet.platform.agent`: flags in, the agent runs until SIGTERM or SIGINT,
then stops its runs, reports them, flushes what it can and exits 0. Bad flags exit 2 with
one line that says what to fix; no traceback for bad input."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace

from kindfleet.errors import EXIT_FAILED, KindfleetError, PrerequisiteError, UsageError
from kindfleet.platform import collector
from kindfleet.platform.agent import logs
from kindfleet.platform.agent.backoff import Backoff
from kindfleet.platform.agent.executors.base import ClusterUnreachable, Executor
from kindfleet.platform.agent.executors.factory import ReportsCapacity, make_executor
from kindfleet.platform.agent.loop import NO_CAPACITY, Agent
from kindfleet.platform.agent.settings import AgentSettings, parse_args
from kindfleet.platform.wire import Capacity
from kindfleet.units import format_cpu, format_memory

log = logs.get("main")


async def _serve(settings: AgentSettings, executor: Executor) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        settings, unread = await _with_capacity(settings, executor)
    except BaseException:
        await executor.close()
        raise
    agent = Agent(settings, executor=executor)
    later = asyncio.create_task(_capacity_later(agent, executor)) if unread else None
    try:
        await agent.run(stop)
    finally:
        if later is not None:
            later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await later


async def _with_capacity(settings: AgentSettings, executor: Executor) -> tuple[AgentSettings, bool]:
    """On a cluster, the spoke offers what its nodes can allocate, read at start; and
    whether it could not be read now (the API server down): then the agent starts all
    the same, offering nothing until it can. Exiting instead (a crash loop in a pod) left
    the hub without heartbeats, so it declared the spoke Lost while its Jobs ran on."""
    if not settings.capacity_from_cluster or not isinstance(executor, ReportsCapacity):
        return settings, False
    try:
        capacity = await executor.capacity()
    except ClusterUnreachable as exc:
        log.warning(
            "%s: offering the hub no capacity until they can be read (this spoke heartbeats "
            "and keeps the Jobs it holds meanwhile); asking again",
            exc,
        )
        return replace(settings, capacity=NO_CAPACITY), True
    _offered(capacity)
    return replace(settings, capacity=capacity), False


async def _capacity_later(agent: Agent, executor: ReportsCapacity | Executor) -> None:
    """Ask the cluster again, backing off, until its nodes can be read; then offer them."""
    assert isinstance(executor, ReportsCapacity)
    backoff = Backoff(base=1.0, cap=30.0)
    while True:
        await asyncio.sleep(backoff.next_delay())
        try:
            capacity = await executor.capacity()
        except PrerequisiteError as exc:  # a refusal too may be put right meanwhile (RBAC)
            log.debug("still cannot read the cluster's nodes: %s", exc)
            continue
        _offered(capacity)
        agent.offer(capacity)
        return


def _offered(capacity: Capacity) -> None:
    log.info(
        "capacity from the cluster's nodes: cpu %s, memory %s, gpus %d",
        format_cpu(capacity.cpu_millis),
        format_memory(capacity.memory_bytes),
        capacity.gpus,
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (it comes with uvicorn[standard]): the agent's loop turns
    several times per run, and uvloop's turns cost a fraction of the default loop's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    logging_ready = False
    try:
        settings = parse_args(argv)
        if not settings.bootstrap_token_file.is_file():
            raise UsageError(
                f"--bootstrap-token-file {settings.bootstrap_token_file} does not exist",
                hint="write the hub's bootstrap token to that file (mode 0600)",
            )
        executor = make_executor(settings)
        logs.setup(settings.log_level, settings.log_file)
        collector.quiet()
        logging_ready = True
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_serve(settings, executor))
    except KindfleetError as exc:
        if logging_ready:
            logs.get("main").error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception:  # a bug: say so in the agent's own log, where operators look
        logs.get("main").exception("the agent failed")
        print("error: the agent failed unexpectedly; see its log", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
