"""The pins only the network can confirm, compared offline (`kindfleet.pins.drift`; the
nightly workflow feeds it what the sources say today), and the places each pin is used
actually holding it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kindfleet import pins
from kindfleet.pins import Observed, Pin

ROOT = Path(__file__).resolve().parents[2]
PIN = Pin("kind", "v0.33.0", "https://example.invalid/kind", ("Makefile",))


def test_nothing_to_say_when_every_pin_holds_and_is_newest():
    assert pins.drift([Observed(PIN), Observed(PIN, latest="v0.33.0")]) == []


@pytest.mark.parametrize(
    ("seen", "words"),
    [
        (Observed(PIN, holds=False), "v0.33.0 no longer holds at https://example.invalid/kind"),
        (Observed(PIN, latest="v0.34.0"), "v0.33.0 pinned, v0.34.0 released"),
        (Observed(PIN, latest="v0.33.1"), "v0.33.1 released"),
        (Observed(PIN, error="URLError: timed out"), "could not read"),
    ],
)
def test_each_kind_of_drift_is_one_line_naming_the_pin(seen, words):
    [line] = pins.drift([seen, Observed(PIN)])
    assert line.startswith("kind: ") and words in line


@pytest.mark.parametrize(
    ("latest", "newer"),
    [("v0.32.9", False), ("v0.33.0", False), ("v1.0.0", True), ("v0.34.0-rc.1", False)],
)
def test_only_a_higher_release_is_newer(latest, newer):
    assert bool(pins.drift([Observed(PIN, latest=latest)])) is newer


def test_every_pin_names_a_source_and_the_files_that_use_it():
    names = [p.name for p in pins.PINS]
    assert len(names) == len(set(names))
    for pin in pins.PINS:
        assert pin.source.startswith("https://"), pin
        for used in pin.used_in:
            path = ROOT / used.split(":")[0]
            assert path.exists(), f"{pin.name} is said to be used in {used}, which is missing"


def test_the_nightly_workflow_runs_the_drift_script():
    workflow = (ROOT / ".github/workflows/pins-nightly.yml").read_text()
    assert "python scripts/pins_drift.py" in workflow and "schedule:" in workflow
