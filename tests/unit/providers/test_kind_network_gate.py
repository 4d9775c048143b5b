"""Parallel first `kind create`s without a kind network: only the first goes ahead until
the network exists (several would each create one: "network kind is ambiguous", kind#1596)."""

import threading
import time

from kindfleet.providers.base import ProviderSettings
from kindfleet.providers.kind import KindProvider


class Docker:
    def __init__(self, exists=False):
        self.exists = exists
        self.calls = 0

    def network(self, name):
        self.calls += 1
        return {"Name": name} if self.exists else None


def provider(docker):
    kind = KindProvider(ProviderSettings(env={}, poll_seconds=0.04))
    kind.docker = docker  # type: ignore[assignment]
    return kind


def test_with_the_network_there_nobody_waits():
    kind = provider(Docker(exists=True))
    assert kind._network_turn() is None
    assert kind._network_turn() is None
    assert kind.docker.calls == 1  # remembered


def test_the_others_wait_for_the_network_the_first_one_makes():
    docker = Docker()
    kind = provider(docker)
    first = kind._network_turn()
    assert first is not None
    released = []

    def second():
        kind._network_turn()
        released.append(time.monotonic())

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    assert released == []  # still waiting: no network yet
    docker.exists = True  # the first `kind create` made it
    thread.join(2)
    assert len(released) == 1


def test_if_the_first_create_ends_without_a_network_the_others_go_anyway():
    kind = provider(Docker())
    first = kind._network_turn()
    done = threading.Event()
    thread = threading.Thread(target=lambda: (kind._network_turn(), done.set()))
    thread.start()
    time.sleep(0.2)
    assert not done.is_set()
    first.set()  # what create() does when its kind create returns or fails
    thread.join(2)
    assert done.is_set()
