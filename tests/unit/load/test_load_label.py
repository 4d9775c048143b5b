"""The label a load gives its workloads (by which an interrupted run is counted on the
hub): a workload that carries it already is refused, not silently relabelled; and the
count after a stop gives up on a run too large to list in time, not a Ctrl-C that hangs."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from kindfleet.errors import KindfleetError, UsageError
from kindfleet.load.run import LOAD_LABEL, _labelled, _labelled_on
from kindfleet.platform.wire import WorkloadSpec

load_run = importlib.import_module("kindfleet.load.run")  # `kindfleet.load.run` is also a function


def test_a_workload_with_the_loads_own_label_is_refused():
    spec = WorkloadSpec(name="w", command=["true"], labels={LOAD_LABEL: "mine"})
    with pytest.raises(UsageError, match="is the load's own"):
        _labelled(spec, "abc")
    plain = WorkloadSpec(name="w", command=["true"], labels={"team": "a"})
    assert _labelled(plain, "abc").labels == {"team": "a", LOAD_LABEL: "abc"}


class SlowHub:
    """A hub whose listing goes on and on (pages of a very large run)."""

    def iter_workloads(self, **filters: object) -> Iterator[object]:
        while True:
            yield object()


def test_the_count_after_a_stop_gives_up_on_a_run_too_large_to_list(monkeypatch):
    monkeypatch.setattr(load_run, "COUNT_FOR", 0.05)
    with pytest.raises(KindfleetError, match="more than"):
        _labelled_on(SlowHub(), "abc")  # type: ignore[arg-type]
