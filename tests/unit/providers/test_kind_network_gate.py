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


def test_a_down_does_not_remove_the_network_while_another_fleets_up_creates_on_it(tmp_path):
    """Found from outside: fleet A's `down` judged the shared kind network unused (no
    container on it yet) while fleet B's `up` was between its look at the network and its
    first node, removed it, and every cluster of B failed ("network kind not found")."""
    from kindfleet.fleetspec import from_text
    from kindfleet.providers.base import CreateOptions

    class Shared(Docker):
        removed = 0

        def remove_network_if_unused(self, name):
            self.removed += 1
            return True

    docker = Shared(exists=True)
    a, b = (KindProvider(ProviderSettings(env={}, state_dir=tmp_path)) for _ in range(2))
    a.docker = b.docker = docker  # type: ignore[assignment]
    fleet_a = from_text("apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: a\n")
    fleet_b = from_text("apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: b\n")
    a._network_record(fleet_a).parent.mkdir(parents=True)
    a._network_record(fleet_a).write_text("kind\n")  # fleet a made it
    creating, finish = threading.Event(), threading.Event()

    def b_creates(*_args, **_kw):
        creating.set()
        finish.wait(10)

    b._create = b_creates  # type: ignore[method-assign]
    thread = threading.Thread(target=b.create, args=(fleet_b, fleet_b.hub, CreateOptions()))
    thread.start()
    try:
        assert creating.wait(10)
        assert a.tidy(fleet_a) == [] and docker.removed == 0  # b is creating on it
    finally:
        finish.set()
        thread.join(10)
    assert a.tidy(fleet_a) == ["network kind"] and docker.removed == 1  # the last one out
