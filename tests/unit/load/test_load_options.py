"""What `kindfleet load` refuses before it sends anything, from the CLI or from Python."""

from __future__ import annotations

import pytest

from kindfleet.errors import UsageError
from kindfleet.fleetspec import from_text
from kindfleet.load import LoadOptions, check

FLEET = from_text(
    "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: t\nprovider: local\nspokes: 2\n"
)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (LoadOptions(requests=0), "at least 1"),
        (LoadOptions(concurrency=0), "at least 1"),
        (LoadOptions(requests=10**20), "at most 10,000,000"),
        (LoadOptions(rate=0), "--rate 0"),
        (LoadOptions(rate=-5), "--rate -5"),
        (LoadOptions(rate=float("nan")), "--rate nan"),
        (LoadOptions(rate=float("inf")), "--rate inf"),
        (LoadOptions(duration=0), "--duration 0"),
        (LoadOptions(duration=-1), "--duration -1"),
        (LoadOptions(spokes=3), "has 2 spokes"),
        (LoadOptions(timeout=0), "--timeout 0"),
        (LoadOptions(timeout=float("nan")), "--timeout nan"),
    ],
)
def test_nonsense_is_refused_with_the_option_named(options, says):
    with pytest.raises(UsageError, match=says.replace("+", r"\+")):
        check(FLEET, options)


def test_sense_is_taken():
    assert check(FLEET, LoadOptions(requests=5, rate=0.5, duration=1, spokes=1)) == ["t-spoke1"]
