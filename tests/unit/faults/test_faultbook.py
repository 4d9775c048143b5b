"""Fault records and their orchestration with a provider that only remembers what it was
asked: who may inject what, what is refused and why, what clear undoes, and what a
command that died half-way leaves for the next one."""

from __future__ import annotations

import json
import os
import time
from typing import Any, ClassVar

import pytest

from kindfleet import faults
from kindfleet.errors import KindfleetError, PartialFailure, UsageError
from kindfleet.faults import FaultBook, FaultRefused, Holder
from kindfleet.fleetspec import from_text
from kindfleet.providers.base import FaultSpec

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: fb
provider: local
spokes: [{name: a}, {name: b}]
"""


class Recorder:
    """Stands for a provider: a list of what it did, and refusals on demand."""

    name: ClassVar[str] = "local"
    owns_clusters: ClassVar[bool] = True

    def __init__(self, refuse: dict[str, str] | None = None, fail: str | None = None) -> None:
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.refuse = refuse or {}
        self.fail = fail
        self.down: set[str] = set()

    def fault_refusal(self, fleet, cluster, action):
        return self.refuse.get(action)

    def list_clusters(self, fleet):
        return [c.name for c in fleet.clusters if c.name not in self.down]

    def inject_fault(self, fleet, cluster, fault: FaultSpec):
        self.calls.append(("inject", fault.action, cluster.name, {}))
        if self.fail == "inject":
            raise KindfleetError("the engine said no")
        return {"token": f"{fault.action}-{cluster.name}"}

    def clear_fault(self, fleet, cluster, fault, undo):
        self.calls.append(("clear", fault.action, cluster.name, dict(undo)))
        if self.fail == "clear":
            raise KindfleetError("cannot undo")


@pytest.fixture
def spec():
    return from_text(FLEET, source="fb")


def test_inject_records_and_clear_undoes_with_what_inject_returned(spec, tmp_path):
    book, provider = FaultBook(tmp_path), Recorder()
    record = faults.inject(spec, provider, book, FaultSpec("partition", "a"))
    assert record.state == "active" and record.undo == {"token": "partition-a"}
    assert [r.id for r in book.live()] == [record.id]
    cleared = faults.clear(spec, provider, book)
    assert [r.id for r in cleared] == [record.id]
    assert provider.calls[-1] == ("clear", "partition", "a", {"token": "partition-a"})
    (kept,) = book.read()
    assert kept.state == "cleared" and kept.cleared_by == "fault clear" and kept.cleared_at
    assert oct(os.stat(book.path).st_mode & 0o777) == "0o600"


def test_hub_is_an_alias_and_unknown_clusters_and_actions_are_named(spec, tmp_path):
    book, provider = FaultBook(tmp_path), Recorder()
    assert faults.inject(spec, provider, book, FaultSpec("kill", "hub")).cluster == "fb-hub"
    with pytest.raises(UsageError, match="no cluster 'c'"):
        faults.inject(spec, provider, book, FaultSpec("kill", "c"))
    with pytest.raises(FaultRefused, match="not a fault"):
        faults.inject(spec, provider, book, FaultSpec("melt", "a"))  # type: ignore[arg-type]


def test_a_cluster_that_is_not_up_is_refused_and_nothing_recorded(spec, tmp_path):
    provider, book = Recorder(), FaultBook(tmp_path / "fleet")
    provider.down.add("a")
    with pytest.raises(FaultRefused, match="it is not up"):
        faults.inject(spec, provider, book, FaultSpec("partition", "a"))
    assert provider.calls == [] and not book.directory.exists()


def test_a_provider_refusal_is_a_usage_error_with_the_reason(spec, tmp_path):
    provider = Recorder(refuse={"pause": "a real cluster cannot be frozen from outside"})
    with pytest.raises(FaultRefused) as err:
        faults.inject(spec, provider, FaultBook(tmp_path), FaultSpec("pause", "a"))
    assert err.value.exit_code == 2
    assert "cannot pause a: a real cluster cannot be frozen" in err.value.message
    assert provider.calls == []


def test_faults_on_the_same_thing_are_refused_others_stack(spec, tmp_path):
    book, provider = FaultBook(tmp_path), Recorder()
    first = faults.inject(spec, provider, book, FaultSpec("partition", "a"))
    faults.inject(spec, provider, book, FaultSpec("kill", "a"))  # nodes, not the link
    with pytest.raises(FaultRefused, match=first.id):
        faults.inject(spec, provider, book, FaultSpec("slow", "a"))
    with pytest.raises(FaultRefused, match=first.id):
        faults.inject(spec, provider, book, FaultSpec("partition", "hub"))  # every link
    faults.inject(spec, provider, book, FaultSpec("slow", "b"))
    assert len(book.live()) == 3


def test_a_failed_injection_stays_on_record_and_clear_undoes_it_without_undo_data(spec, tmp_path):
    book = FaultBook(tmp_path)
    with pytest.raises(KindfleetError, match="engine said no"):
        faults.inject(spec, Recorder(fail="inject"), book, FaultSpec("stop", "a"))
    (record,) = book.live()
    assert record.state == "injecting" and record.error == "the engine said no"
    assert "died while injecting" in record.note()
    provider = Recorder()
    faults.clear(spec, provider, book, [record.id])
    assert provider.calls == [("clear", "stop", "a", {})]


def test_a_clear_that_fails_keeps_the_fault_live_and_clears_the_others(spec, tmp_path):
    book = FaultBook(tmp_path)
    faults.inject(spec, Recorder(), book, FaultSpec("kill", "a"))
    faults.inject(spec, Recorder(), book, FaultSpec("kill", "b"))

    class FailsOnA(Recorder):
        def clear_fault(self, fleet, cluster, fault, undo):
            if cluster.name == "a":
                raise KindfleetError("a will not start")

    with pytest.raises(PartialFailure) as err:
        faults.clear(spec, FailsOnA(), book)
    assert "a will not start" in err.value.message
    (left,) = book.live()
    assert left.cluster == "a" and left.error == "a will not start"


def test_clear_names_unknown_ids_and_does_nothing_when_nothing_is_live(spec, tmp_path):
    book = FaultBook(tmp_path / "fleet")
    assert faults.clear(spec, Recorder(), book) == []
    assert not book.directory.exists()  # no lock file or record made for nothing
    faults.inject(spec, Recorder(), book, FaultSpec("kill", "a"))
    with pytest.raises(UsageError, match="no fault f-nope"):
        faults.clear(spec, Recorder(), book, ["f-nope"])


def test_down_does_not_restart_what_it_deletes_but_undoes_the_rest(spec, tmp_path):
    book, provider = FaultBook(tmp_path), Recorder()
    faults.inject(spec, provider, book, FaultSpec("kill", "a"))
    faults.inject(spec, provider, book, FaultSpec("partition", "a"))
    faults.inject(spec, provider, book, FaultSpec("pause", "b"))
    provider.calls.clear()
    cleared = faults.clear_for_down(spec, provider, book, ["a"])
    assert {(r.action, r.cleared_by) for r in cleared} == {("kill", "down"), ("partition", "down")}
    assert provider.calls == [("clear", "partition", "a", {"token": "partition-a"})]
    assert [r.cluster for r in book.live()] == ["b"]


def test_hold_clears_when_due_and_stops_when_another_command_cleared_it(spec, tmp_path):
    book, provider = FaultBook(tmp_path), Recorder()
    record = faults.inject(spec, provider, book, FaultSpec("pause", "a"), duration=0.2)
    assert record.holder == Holder.me() and record.until is not None
    cleared = faults.hold(spec, provider, book, record, tick=0.02)
    assert cleared is not None and cleared.cleared_by.startswith("its --for")
    other = faults.inject(spec, provider, book, FaultSpec("pause", "a"), duration=30)
    faults.clear(spec, provider, book, [other.id])
    started = time.monotonic()
    assert faults.hold(spec, provider, book, other, tick=0.02) is None
    assert time.monotonic() - started < 5


def test_hold_clears_at_once_on_interrupt(spec, tmp_path):
    book, provider = FaultBook(tmp_path), Recorder()
    record = faults.inject(spec, provider, book, FaultSpec("stop", "a"), duration=30)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        faults.hold(spec, provider, book, record, sleep=interrupted)
    assert book.read()[0].cleared_by == "interrupt"


class SeesRestarts(Recorder):
    """Also tells when something else (`kindfleet up`) started a stopped or killed
    cluster again: each start is a new run, and a fault remembers the run it stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, int] = {}

    def inject_fault(self, fleet, cluster, fault: FaultSpec):
        undo = super().inject_fault(fleet, cluster, fault)
        return {**undo, "run": self.runs.get(cluster.name, 0)}

    def fault_undone(self, fleet, cluster, fault, undo):
        run = self.runs.get(cluster.name, 0)
        if fault.action in ("stop", "kill") and run != undo.get("run"):
            return f"{cluster.name} was started again (run {run})"
        return None


def test_a_fault_something_else_undid_is_no_longer_live_nor_in_the_way(spec, tmp_path):
    book, provider = FaultBook(tmp_path), SeesRestarts()
    killed = faults.inject(spec, provider, book, FaultSpec("kill", "a"))
    cut = faults.inject(spec, provider, book, FaultSpec("partition", "a"))
    assert faults.settle(spec, provider, book) == []
    provider.runs["a"] = 1  # `kindfleet up` started it again
    (settled,) = faults.settle(spec, provider, book)
    assert settled.id == killed.id and "a was started again" in settled.note()
    assert [r.id for r in book.live()] == [cut.id]
    provider.runs["b"] = 1
    faults.inject(spec, provider, book, FaultSpec("stop", "a"))  # accepted: nothing in the way
    assert faults.settle(spec, provider, book) == []  # the new stop is in effect


def test_inject_and_clear_settle_first_without_undoing_twice(spec, tmp_path):
    book, provider = FaultBook(tmp_path), SeesRestarts()
    stopped = faults.inject(spec, provider, book, FaultSpec("stop", "a"))
    provider.runs["a"] = 1
    assert faults.clear(spec, provider, book, [stopped.id]) == []  # already undone
    assert ("clear", "stop", "a") not in [c[:3] for c in provider.calls]
    (kept,) = book.read()
    assert kept.state == "cleared" and kept.cleared_by.startswith("another command")
    faults.inject(spec, provider, book, FaultSpec("kill", "b"))
    provider.runs["b"] = 1
    again = faults.inject(spec, provider, book, FaultSpec("kill", "b"))
    assert [r.id for r in book.live()] == [again.id]


def test_a_duration_past_the_cap_is_refused_before_anything_is_done(spec, tmp_path):
    book, provider = FaultBook(tmp_path / "fleet"), Recorder()
    with pytest.raises(UsageError, match="at most 168h"):
        faults.inject(spec, provider, book, FaultSpec("partition", "a"), duration=3.6e11)
    assert provider.calls == [] and not book.directory.exists()


@pytest.mark.parametrize("until", [3.6e11, float("inf"), "tomorrow", -5, True])
def test_a_time_no_datetime_holds_never_breaks_later_commands(spec, tmp_path, until):
    """A record written before `--for` was capped (`--for 100000000h`: year 13434), or
    edited by hand: read as held until cleared, and said so."""
    book, provider = FaultBook(tmp_path), Recorder()
    cut = faults.inject(spec, provider, book, FaultSpec("partition", "a"))
    data = json.loads(book.path.read_text())
    data["faults"][0].update(until=until, holder={"pid": 2**22 + 17, "started": 1.0})
    book.path.write_text(json.dumps(data))
    (record,) = book.read()
    assert record.until is None and "`--for` end could not be read" in record.note()
    assert faults.report("fb", book.read()).faults[0].until is None
    faults.inject(spec, provider, book, FaultSpec("kill", "b"), duration=60)
    assert {r.id for r in faults.clear(spec, provider, book)} >= {cut.id}
    assert faults.report("fb", book.read()) and book.live() == []


def test_a_holder_that_died_is_told_apart(tmp_path):
    gone = Holder(pid=2**22 + 17, started=1.0)
    record = faults.FaultRecord(
        "f-1", "partition", "a", "spoke", "local", time.time(), state="active",
        until=time.time() + 60, holder=gone,
    )  # fmt: skip
    assert "holder is gone" in record.note()


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        '{"faults": 3}',
        '{"faults": [1]}',
        '{"faults": [{"id": "f-1"}]}',
        '"x"',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_records_edited_by_hand_are_one_clear_error(tmp_path, text):
    book = FaultBook(tmp_path)
    book.path.write_text(text)
    with pytest.raises(KindfleetError, match="cannot read the fault records") as caught:
        book.read()
    assert "move the file away" in (caught.value.hint or "")
