"""The launcher on a disk with no room: its records of keepers (the `keepers` file that
`spokectl reap` and the next agent read after a crash) cannot grow.

Found from outside (a CI run of the full-disk agent test, then an agent on a disk out of
inodes): a new keeper whose record could not be written failed its run for good
(StartFailed) and stayed forked, unused, outside the launcher's books; a launcher that could
not write its records at its start died with a traceback on the agent's stderr, and the run
was failed as "the launcher exited as it started". Now the run is refused for want of room
(the agent holds it and tries again), and no keeper that is not on record is left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runmanager_helpers import launcher_by_hand, python_script
from tests.smalldisk import fill_inodes, small_disk

from kindfleet.platform.agent import diskroom

FORK_A_KEEPER = (
    launcher_by_hand('os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC')
    + r"""
take({"op": "run", "key": "w1-g1"})
for _ in range(200):  # as on its SIGCHLD: the killed keeper is reaped
    la._reap()
    children = open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()
    if not children:
        break
    time.sleep(0.01)
news = list(Decoder().feed(b"".join(la.news)))
print(json.dumps({"news": news, "keepers": len(la.keepers), "children": children,
                  "busy": list(la.busy)}))
"""
)


def test_a_keeper_whose_record_cannot_be_written_is_not_kept_and_its_run_waits() -> None:
    result = json.loads(python_script(FORK_A_KEEPER, timeout=60))
    assert result["keepers"] == 0 and result["children"] == [], result  # killed and reaped
    assert result["busy"] == [], result
    [failed] = result["news"]
    assert failed["ev"] == "failed" and failed["key"] == "w1-g1", failed
    assert failed["reason"] == diskroom.NO_ROOM, failed  # waits for room, not StartFailed


START_ON = r"""
import asyncio, sys
from pathlib import Path
from kindfleet.platform.agent.executors.process.client import LaunchFailed, LauncherClient

async def main(state: Path) -> None:
    client = LauncherClient(state, cgroups="off")
    env = {"PATH": "/usr/bin:/bin"}
    first = asyncio.ensure_future(client.run("w1-g1", state / "runs" / "w1-g1", ["true"], env))
    await asyncio.sleep(0.01)  # runs that come while that launcher starts: refused with it
    together = await asyncio.gather(
        first,
        *(client.run(k, state / "runs" / k, ["true"], env) for k in ("w3-g1", "w4-g1")),
        return_exceptions=True,
    )
    for exc in together:
        print("refused:", exc.reason, exc.message)
    first = client._proc
    try:  # at once again, as another waiting run would: answered without a new launcher
        await client.run("w2-g1", state / "runs" / "w2-g1", ["true"], {"PATH": "/usr/bin:/bin"})
    except LaunchFailed as exc:
        print("refused again:", exc.reason, "by the same:", client._proc is first)
    if sys.argv[2] == "free":
        for filler in (state.parent / "inodes").iterdir():
            filler.unlink()
        for _ in range(50):  # as the agent does: it tries again (a refusal holds a second)
            try:
                started = await client.run("w1-g1", state / "runs" / "w1-g1", ["true"], {"PATH": "/usr/bin:/bin"})
                break
            except LaunchFailed as exc:
                print("again:", exc.reason)
                await asyncio.sleep(0.1)
        print("started:", started.pid > 0)
        print("ended:", (await client.ended("w1-g1")).code)
    await client.close()

asyncio.run(main(Path(sys.argv[1])))
"""


@pytest.mark.parametrize("then", ["free", "stay"])
def test_a_launcher_that_cannot_write_its_records_says_so_and_the_next_start_works(
    tmp_path: Path, then: str
) -> None:
    with small_disk(tmp_path / "disk", "4m", inodes=32) as disk:
        state = disk / "state"
        (state / "runs").mkdir(parents=True)
        fill_inodes(disk)
        said = python_script(START_ON, str(state), then, timeout=60)
    refused = f"refused: {diskroom.NO_ROOM} the launcher cannot write its records"
    assert said.count(refused) == 3, said  # not "stopped while starting this run"
    assert "No space left on device" in said
    assert f"refused again: {diskroom.NO_ROOM} by the same: True" in said
    if then == "free":
        assert "started: True" in said and "ended: 0" in said, said
