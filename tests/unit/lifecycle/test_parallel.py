"""A Ctrl-C stops parallel work cleanly wherever it lands: what started is told to stop
and waited for before the interrupt goes on to the clean-up."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import pytest

from kindfleet.lifecycle.parallel import run_parallel


def test_results_come_in_the_order_of_the_items():
    assert run_parallel([3, 1, 2], lambda i: i * 10, limit=2, key=str) == {
        "3": 30,
        "1": 10,
        "2": 20,
    }


def test_a_failure_is_that_items_result():
    def work(i: int) -> int:
        if i == 2:
            raise ValueError("two")
        return i

    out = run_parallel([1, 2], work, limit=2, key=str)
    assert out["1"] == 1 and isinstance(out["2"], ValueError)


def test_a_ctrl_c_while_work_is_handed_out_still_stops_and_waits_for_what_started():
    """Found on a starved CPU (`up`'s Ctrl-C test): a worker ran, and the interrupt landed,
    before the main thread reached its wait; the interrupt went straight on to the
    clean-up, the running create neither told to stop nor waited for."""
    started, release = threading.Event(), threading.Event()
    finished: list[int] = []

    def work(i: int) -> int:
        started.set()
        release.wait(10)
        finished.append(i)
        return i

    def key(i: int) -> str:
        if i == 1:  # the interrupt lands while the second item is handed out
            assert started.wait(10)
            raise KeyboardInterrupt
        return str(i)

    with pytest.raises(KeyboardInterrupt):
        run_parallel([0, 1], work, limit=2, key=key, on_interrupt=release.set)
    assert release.is_set()  # told to stop
    assert finished == [0]  # and waited for


def test_a_ctrl_c_inside_the_submission_waits_for_the_item_it_started(monkeypatch):
    """Found under a starved CPU (`up`'s Ctrl-C test, 7 runs in 25): the Ctrl-C landed
    inside `submit`, after the item was queued and before its future was known here; the
    item ran on while `up` went on to its clean-up. The workers' own count is waited for."""
    real = cf.ThreadPoolExecutor.submit
    started, finished = threading.Event(), threading.Event()

    def submit_then_interrupted(pool, fn, *args, **kwargs):
        real(pool, fn, *args, **kwargs)
        assert started.wait(10)  # it runs
        raise KeyboardInterrupt

    def work(item: str) -> str:
        started.set()
        time.sleep(0.3)
        finished.set()
        return item

    monkeypatch.setattr(cf.ThreadPoolExecutor, "submit", submit_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_parallel(["a", "b"], work, limit=2, key=str)
    assert finished.is_set()  # waited for, not left running
