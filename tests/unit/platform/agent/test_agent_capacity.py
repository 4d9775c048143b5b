"""The spoke's own capacity ledger: what fits, what is reserved, why something does not."""

from __future__ import annotations

from kindfleet.platform.agent.capacity import Ledger, Need
from kindfleet.platform.wire import Capacity, Resources


def _ledger(cpu=2000, memory=2**30, gpus=2) -> Ledger:
    return Ledger(Capacity(cpu_millis=cpu, memory_bytes=memory, gpus=gpus))


def test_need_from_resources():
    assert Need.of(Resources(cpu="500m", memory="256Mi", gpu=1)) == Need(500, 256 * 2**20, 1)


def test_reserve_until_full_then_say_what_is_missing():
    ledger = _ledger()
    assert ledger.reserve("a", Need(1500, 2**29, 1)) == (0,)
    assert ledger.allocated == Need(1500, 2**29, 1)
    why = ledger.shortfall(Need(1000, 2**30, 2))
    assert why is not None
    assert "cpu 1 > free 500m" in why
    assert "memory 1Gi > free 512Mi" in why
    assert "gpu 2 > free 1" in why
    assert ledger.reserve("b", Need(1000, 1, 0)) is None
    assert ledger.allocated == Need(1500, 2**29, 1)  # nothing taken by the refusal
    ledger.release("a")
    assert ledger.reserve("b", Need(2000, 2**30, 2)) == (0, 1)


def test_the_same_owner_cannot_reserve_twice():
    ledger = _ledger()
    assert ledger.reserve("a", Need(100, 1, 0)) == ()
    assert ledger.reserve("a", Need(100, 1, 0)) is None


def test_gpu_ids_kept_across_a_restart_and_forced_reservations():
    ledger = _ledger(gpus=2)
    assert ledger.reserve("a", Need(100, 1, 1), gpu_ids=(1,)) == (1,)
    assert ledger.reserve("b", Need(100, 1, 1)) == (0,)
    # A run that is already running is counted even when it no longer fits.
    assert ledger.reserve("c", Need(5000, 1, 1), gpu_ids=(1,), force=True) == (1,)
    assert ledger.allocated.cpu_millis == 5200


def test_capacity_learnt_late_keeps_what_runs_hold():
    """Started before the cluster's nodes could be read (no capacity), a Job re-adopted
    with GPU 1 keeps it once the real capacity is known: it is not handed out again."""
    ledger = Ledger(Capacity(cpu_millis=0, memory_bytes=0, gpus=0))
    assert ledger.reserve("old", Need(1000, 1, 1), gpu_ids=(1,), force=True) == (1,)
    assert ledger.reserve("new", Need(1000, 1, 1)) is None  # nothing offered yet
    ledger.resize(Capacity(cpu_millis=4000, memory_bytes=2**30, gpus=2))
    assert ledger.reserve("new", Need(1000, 1, 1)) == (0,)
    assert ledger.reserve("third", Need(1000, 1, 1)) is None  # GPU 1 is still old's
    ledger.release("old")
    assert ledger.reserve("third", Need(1000, 1, 1)) == (1,)
