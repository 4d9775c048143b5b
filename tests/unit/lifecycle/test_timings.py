"""Timings of up and down: step durations from the progress events, peak memory from
samples, as the data `-o json` prints."""

from __future__ import annotations

import itertools
import time

from kindfleet.lifecycle.events import Event
from kindfleet.lifecycle.timings import MemoryPeaks, Recorder, Timings


def test_finished_steps_are_kept_per_cluster_and_passed_on():
    seen = []
    record = Recorder(seen.append)
    events = [
        Event("hub", "creating", "start"),
        Event("hub", "creating", "done", seconds=40.0),
        Event("", "preflight", "done", seconds=1.5),
        Event("spoke", "creating", "fail", seconds=3.0),
        Event("hub", "waiting", "done", seconds=2.0),
        Event("hub", "waiting", "done", seconds=1.0),  # a step run twice: its time adds up
        Event("hub", "", "done", seconds=43.0, final=True),  # the cluster as a whole
    ]
    for event in events:
        record(event)
    assert seen == events
    timings = record.timings({"hub": 900, "spoke": 100})
    assert timings.steps == {
        "hub": {"creating": 40.0, "waiting": 3.0},
        "fleet": {"preflight": 1.5},
        "spoke": {"creating": 3.0},
    }
    data = timings.to_dict({"hub": 43.0, "spoke": 3.0})
    assert data["peakMemoryBytes"] == 1000
    assert data["clusters"]["hub"] == {
        "steps": {"creating": 40.0, "waiting": 3.0},
        "seconds": 43.0,
        "peakMemoryBytes": 900,
    }
    assert data["clusters"]["fleet"] == {"steps": {"preflight": 1.5}}
    assert Timings({}).to_dict({})["peakMemoryBytes"] is None


def test_memory_peaks_keep_the_highest_sample_and_skip_failed_ones():
    samples = itertools.chain(
        [{"hub": 100}, RuntimeError("not yet"), {"hub": 300, "spoke": 50}],
        itertools.repeat({"hub": 200, "spoke": 80}),
    )

    def sample():
        value = next(samples)
        if isinstance(value, Exception):
            raise value
        return value

    deadline = time.monotonic() + 5
    with MemoryPeaks(sample, interval=0.001) as peaks:
        while peaks.peaks.get("spoke", 0) < 80 and time.monotonic() < deadline:
            time.sleep(0.001)
    assert peaks.peaks == {"hub": 300, "spoke": 80}
