"""Runs the agent sends in a burst are handed out at the end of the launcher's round of
events, to the keepers idle then and to at most FORKS_PER_ROUND new ones per round: a
keeper's life costs ten times what serving one more run costs, so runs of a burst go to
keepers freed in the same round rather than each forking its own. What must not change:
every run of a burst of long runs gets a keeper of its own, and a stop for a run still
waiting for one reaches it (with it, in its turn: a stopped burst forks no faster)."""

from __future__ import annotations

import json
from pathlib import Path

from runmanager_helpers import launcher_by_hand, python_script

from kindfleet.platform.agent.executors.process.launcher import FORKS_PER_ROUND

BURST = (
    launcher_by_hand(
        'os.open(Path(sys.argv[1]) / "keepers", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)'
    )
    + r"""
size = int(sys.argv[2])
linux.become_subreaper()

# One round: the agent sends a burst of long runs, then stops the last one.
for n in range(size):
    la._from_agent(run(f"w{n}-g1", "sleep", "30"))
la._from_agent({"op": "term", "key": f"w{size - 1}-g1"})
la._start_waiting()
first_round = len(la.keepers)
rounds = 1
while la.waiting:
    la._start_waiting()
    rounds += 1
all_started = lambda news: sum(m["ev"] == "started" for m in news) == size
news = heard(lambda news: all_started(news) and said("exited")(news))
keepers = {m["key"]: m["keeper"] for m in news if m["ev"] == "started"}
la._shutdown()
print(json.dumps({"first_round": first_round, "rounds": rounds, "news": news,
                  "keepers": keepers}))
"""
)


def test_a_burst_of_long_runs_gets_a_keeper_each_a_few_forks_a_round(tmp_path: Path) -> None:
    size = 3 * FORKS_PER_ROUND + 2
    result = json.loads(python_script(BURST, str(tmp_path), str(size)))
    # The stopped run waits its turn too: a stop forks nothing at once.
    assert result["first_round"] == FORKS_PER_ROUND, result
    assert result["rounds"] == 4, result  # 14 runs: 4 a round
    keepers = result["keepers"]
    assert len(keepers) == size and len(set(keepers.values())) == size, result


def test_a_stop_for_a_run_still_waiting_for_a_keeper_reaches_it(tmp_path: Path) -> None:
    size = 3 * FORKS_PER_ROUND + 2
    result = json.loads(python_script(BURST, str(tmp_path), str(size)))
    [exited] = [m for m in result["news"] if m["ev"] == "exited"]
    assert exited["key"] == f"w{size - 1}-g1", result  # the others sleep on
    assert exited["code"] == 128 + 15, result  # its SIGTERM, not its 30 s


TWICE = (
    launcher_by_hand("os.open(os.devnull, os.O_WRONLY)")
    + r"""
linux.become_subreaper()
sleep = ("sleep", "30")

la._from_agent(run("w1-g1", *sleep))
la._from_agent(run("w1-g1", *sleep))  # again, while the first still waits for a keeper
la._start_waiting()
heard(said("started"))
take(run("w1-g1", *sleep))  # and again, while it runs
held = len(la.keepers)
la._from_agent({"op": "term", "key": "w1-g1"})
news = heard(said("exited"))
la._shutdown()
print(json.dumps({"news": news, "keepers": held}))
"""
)


def test_a_second_run_with_the_same_key_is_refused_and_the_first_goes_on(tmp_path: Path) -> None:
    """Found from outside: a second `run` of a key still waiting replaced the first, which
    was never answered (its start awaited for ever); of a key running, it was started beside
    the first, and a stop reached only one of them."""
    result = json.loads(python_script(TWICE, str(tmp_path)))
    events = [(m["ev"], m.get("message", "")) for m in result["news"]]
    assert [e for e, _ in events] == ["failed", "started", "failed", "exited"], events
    assert all("already held" in why for e, why in events if e == "failed"), events
    assert result["keepers"] == 1, result  # the sleep ran once
    [exited] = [m for m in result["news"] if m["ev"] == "exited"]
    assert exited["code"] == 128 + 15, exited  # the one stop reached the one run
