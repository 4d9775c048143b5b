"""`kind create cluster` when Docker refuses a host port kind had just found free (another
cluster's creation, or a test's server, bound it first: seen in CI, the whole real-kind
suite lost): created again, kind choosing anew, a bounded number of times; never with
--retain (the node kind began is kept then) nor for any other failure."""

from __future__ import annotations

import pytest

from kindfleet.exec import Command, CommandError, Result
from kindfleet.providers.base import ProviderSettings
from kindfleet.providers.kind import KindProvider
from kindfleet.providers.kind.kindcli import PORT_TRIES

TAKEN = (
    "docker: Error response from daemon: driver failed programming external connectivity "
    "on endpoint x-control-plane: Bind for 127.0.0.1:39815 failed: port is already allocated"
)


class Runner:
    def __init__(self, failures: list[str]) -> None:
        self.failures, self.calls = failures, 0

    def run(self, command: Command) -> Result:
        self.calls += 1
        if self.failures:
            raise CommandError(Result(command, 1, "", self.failures.pop(0)))
        return Result(command, 0, "", "")


def create(failures: list[str], *, retain: bool = False) -> Runner:
    kind = KindProvider(ProviderSettings(env={}))
    kind.runner = runner = Runner(failures)  # type: ignore[assignment]
    kind._run_create(Command(("kind", "create", "cluster")), retain=retain)
    return runner


def test_a_port_taken_meanwhile_is_tried_again():
    assert create([TAKEN]).calls == 2
    assert create([TAKEN] * (PORT_TRIES - 1)).calls == PORT_TRIES


def test_a_port_taken_every_time_or_kept_nodes_or_another_failure_is_the_error():
    for failures, retain in (([TAKEN] * PORT_TRIES, False), ([TAKEN], True), (["boom"], False)):
        with pytest.raises(CommandError):
            create(list(failures), retain=retain)
