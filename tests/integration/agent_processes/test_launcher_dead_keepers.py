"""A keeper that dies at the wrong moment, and a run too large to hand over: the run in
question fails alone, and nothing else on the spoke notices.

Found from outside (an attacker with kill -9 and a hostile spec): a `term` for a run whose
keeper had just died, or a run handed to an idle keeper that had died unseen (its SIGCHLD
not handled yet), raised BrokenPipeError in the launcher, which then killed every run of the
spoke on its way out (LauncherLost); a keeper killed between taking a run and saying it
started left the agent awaiting `started` for ever (the run Assigned, not even
cancellable); a spec the hub takes (256 arguments of astral characters, each 12 bytes as a
JSON escape) made a frame past the launcher's limit, and the launcher died of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from runmanager_helpers import launcher_by_hand, python_script

from kindfleet.platform.agent.executors.process import procfs
from kindfleet.platform.agent.executors.process.client import LauncherClient, LaunchFailed
from kindfleet.platform.agent.executors.process.framing import MAX_MESSAGE, encode
from kindfleet.platform.wire import MAX_COMMAND_ARGS

ENV = {"PATH": "/usr/bin:/bin"}

# A launcher driven by hand, one step at a time, so that "the keeper died and its SIGCHLD
# was not handled yet" is a fact of the test, not a matter of scheduling.
BY_HAND = (
    launcher_by_hand(
        'os.open(Path(sys.argv[1]) / "keepers", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)'
    )
    + r"""
linux.become_subreaper()  # what a dead keeper's run leaves comes here, as to a launcher

def dead_unseen(keeper):
    os.kill(keeper.pid, signal.SIGKILL)
    for _ in range(500):  # a zombie: dead, and not reaped (no SIGCHLD handled)
        found = procfs.stat(keeper.pid)
        if found is not None and found.zombie:
            return
        time.sleep(0.01)
    raise SystemExit("the keeper did not die")

case = sys.argv[2]
if case == "idle":
    take(run("w1-g1", "true"))
    heard(said("exited", "w1-g1"))
    [idle] = la.idle
    dead_unseen(idle)
    take(run("w2-g1", "true"))  # handed to the dead keeper first
    news = heard(said("exited", "w2-g1"))
    la._reap()
    print(json.dumps({"news": news, "dead": idle.pid, "taken_by": None}))
else:
    take(run("w1-g1", "sleep", "30"))
    heard(said("started"))
    keeper = la.busy["w1-g1"]
    dead_unseen(keeper)
    take({"op": "term", "key": "w1-g1"})  # a cancel, an instant too late
    la._reap()  # its SIGCHLD, handled at last
    news = list(Decoder().feed(b"".join(la.news)))
    living = [p for p in procfs.descendants(os.getpid())
              if (found := procfs.stat(p)) is not None and not found.zombie]
    print(json.dumps({"news": news, "left": living}))  # a killed one may await its reaping
"""
)


def _by_hand(tmp_path: Path, case: str) -> dict:
    return json.loads(python_script(BY_HAND, str(tmp_path), case))


def test_a_run_handed_to_a_keeper_that_died_unseen_starts_in_another(tmp_path: Path) -> None:
    result = _by_hand(tmp_path, "idle")
    ends = [m for m in result["news"] if m["key"] == "w2-g1"]
    assert [m["ev"] for m in ends] == ["started", "exited"], result
    assert ends[0]["keeper"] != result["dead"] and ends[1]["code"] == 0, result


def test_a_stop_for_a_run_whose_keeper_just_died_ends_that_run_alone(tmp_path: Path) -> None:
    result = _by_hand(tmp_path, "busy")
    [lost] = [m for m in result["news"] if m["ev"] == "exited"]
    assert lost["key"] == "w1-g1" and lost["reason"] == "KeeperLost", result
    assert result["left"] == [], result  # the run's sleep was killed with it


async def _until_child_of(pid: int, count: int) -> list[int]:
    for _ in range(500):
        children = procfs.children(pid, threads=False)
        if len(children) >= count:
            return children
        await asyncio.sleep(0.01)
    raise AssertionError(f"the launcher {pid} has {procfs.children(pid)} children")


async def test_a_keeper_killed_before_its_run_started_fails_that_start(tmp_path: Path) -> None:
    client = LauncherClient(tmp_path, cgroups="off")
    runs = tmp_path / "runs"
    runs.mkdir()
    try:
        await client.run("w1-g1", runs / "w1-g1", ["true"], ENV)
        await client.ended("w1-g1")
        assert client.pid is not None
        [keeper] = await _until_child_of(client.pid, 1)  # idle now, and the only one
        os.kill(keeper, signal.SIGSTOP)  # it takes the next run, and cannot start it
        starting = asyncio.ensure_future(client.run("w2-g1", runs / "w2-g1", ["true"], ENV))
        await asyncio.sleep(0.3)
        assert not starting.done()
        os.kill(keeper, signal.SIGKILL)
        with pytest.raises(LaunchFailed) as failed:
            await asyncio.wait_for(starting, 30)  # before: for ever
        assert failed.value.reason == "KeeperLost"
        again = await client.run("w3-g1", runs / "w3-g1", ["true"], ENV)  # the spoke goes on
        assert again.keeper != keeper and (await client.ended("w3-g1")).code == 0
    finally:
        await client.close()


def test_the_largest_spec_the_hub_takes_fits_in_a_launch_message() -> None:
    """256 arguments and 128 variables of 4,096 astral characters: 18.8 MB as JSON escapes,
    past the 16 MiB a frame may hold; in UTF-8 it fits."""
    big = "\U0001f600" * 4096
    argv = [big] * MAX_COMMAND_ARGS
    env = {f"V{i}": big for i in range(128)}
    frame = encode({"op": "run", "key": "w1-g1", "dir": "/x", "argv": argv, "env": env})
    assert len(frame) < MAX_MESSAGE


async def test_a_run_too_large_to_hand_over_fails_alone(tmp_path: Path) -> None:
    client = LauncherClient(tmp_path, cgroups="off")
    runs = tmp_path / "runs"
    runs.mkdir()
    try:
        await client.run("w1-g1", runs / "w1-g1", ["sleep", "30"], ENV)
        huge = ["x" * (1 << 20)] * 17  # past any frame the launcher reads
        with pytest.raises(LaunchFailed, match="more than a run can be started with"):
            await client.run("w2-g1", runs / "w2-g1", ["echo", *huge], ENV)
        ended = client.ended("w1-g1")
        assert ended is not None
        await asyncio.sleep(0.3)
        assert not ended.done()  # the launcher, and the other run, live on
        client.kill("w1-g1")
        assert (await asyncio.wait_for(ended, 30)).code == 137
    finally:
        await client.close()
