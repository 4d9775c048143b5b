"""One kindfleet at a time changes a fleet; a killed one leaves no lock behind."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from kindfleet.lifecycle import fleetlock


def test_a_second_change_is_refused_and_names_the_first(tmp_path):
    with fleetlock.hold("f", "up", tmp_path):
        with pytest.raises(fleetlock.FleetBusy) as caught, fleetlock.hold("f", "down", tmp_path):
            pass
        assert caught.value.exit_code == 3
        assert caught.value.message.startswith(
            f"fleet f is being changed by `kindfleet up` (pid {os.getpid()}, since "
        )
        with fleetlock.hold("g", "up", tmp_path):  # another fleet: its own lock
            pass
    with fleetlock.hold("f", "down", tmp_path):  # released when the first ended
        pass


def test_a_killed_holder_leaves_nothing_to_clean_up(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from kindfleet.lifecycle import fleetlock
        with fleetlock.hold("f", "up", Path({str(tmp_path)!r})):
            print("held", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with (
            pytest.raises(fleetlock.FleetBusy, match=f"pid {proc.pid}"),
            fleetlock.hold("f", "up", tmp_path),
        ):
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        with fleetlock.hold("f", "up", tmp_path):
            pass
    finally:
        proc.kill()
        proc.wait()


def test_the_lock_outlives_the_removal_of_the_fleets_state(tmp_path):
    """`down` removes the state directory while it holds the lock: a lock file inside it
    was removed under its holder, and a second `up` then took a new one and started."""
    state = tmp_path / "f"
    with fleetlock.hold("f", "down", tmp_path):
        state.mkdir(exist_ok=True)
        (state / "x").write_text("")
        shutil.rmtree(state)
        with pytest.raises(fleetlock.FleetBusy), fleetlock.hold("f", "up", tmp_path):
            pass
    assert not fleetlock.lock_path("f", tmp_path).is_relative_to(state)
    assert list(tmp_path.iterdir()) == []  # the lock went with its holder: nothing is left


RACER = """
import os, sys, time
from pathlib import Path
from kindfleet.lifecycle import fleetlock
root, inside, held = Path(sys.argv[1]), Path(sys.argv[1]) / "inside", 0
for _ in range(int(sys.argv[2])):
    try:
        with fleetlock.hold("f", "up", root):
            fd = os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # two at once: raises
            held += 1
            time.sleep(0.0005)
            os.close(fd)
            os.unlink(inside)
    except fleetlock.FleetBusy:
        pass
print(held)
"""


def test_racing_holders_never_hold_it_together_nor_trip_on_its_removal(tmp_path):
    """Four processes take and leave the lock 400 times each: never two inside at once,
    and none fails on a lock file or folder a leaving holder removed (a first version
    raised FileExistsError from mkdir when the folder went between its two steps)."""
    racers = [
        subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path), "400"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    outcomes = [proc.communicate(timeout=120) for proc in racers]
    assert [proc.returncode for proc in racers] == [0] * 4, [err for _, err in outcomes]
    assert sum(int(out) for out, _ in outcomes) > 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["dangling link", "under /proc"])
def test_a_state_path_that_can_never_be_made_is_said_not_spun_on(tmp_path, where):
    """Found from outside: with a dangling symlink on the state path (or the state under
    /proc), `up` and `down` retried the lock's mkdir for ever, at 100% CPU, saying
    nothing."""
    root = tmp_path / "state"
    if where == "dangling link":
        root.symlink_to(tmp_path / "gone" / "disk")
    else:
        root = Path("/proc/kindfleet-nope")
    raised: list[BaseException] = []

    def take() -> None:
        try:
            with fleetlock.hold("f", "up", root):
                pass
        except BaseException as exc:
            raised.append(exc)

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    taker.join(60)  # a bound on a regression (it spun for ever), not a wait for a pass
    assert not taker.is_alive(), "still retrying"
    [error] = raised
    assert isinstance(error, fleetlock.PrerequisiteError) and error.exit_code == 3
    assert error.message.startswith("cannot create ")
    assert "KINDFLEET_STATE_DIR" in (error.hint or "")
