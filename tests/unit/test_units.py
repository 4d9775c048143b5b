import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindfleet.units import format_cpu, format_memory, parse_cpu, parse_memory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512Mi", 512 * 2**20),
        ("8Gi", 8 * 2**30),
        ("1G", 10**9),
        ("100", 100),
        ("1.5Gi", 3 * 2**29),
        ("2k", 2000),
        (1024, 1024),
    ],
)
def test_memory(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("500m", 500), ("2", 2000), ("0.25", 250), (1.5, 1500)]
)
def test_cpu(text, expected):
    assert parse_cpu(text) == expected


@pytest.mark.parametrize("bad", ["", "8GB", "-1", "1.2.3", "Gi", "abc"])
def test_bad_memory(bad):
    with pytest.raises(ValueError, match="512Mi"):
        parse_memory(bad)


@pytest.mark.parametrize("bad", ["", "1core", "-1", "m"])
def test_bad_cpu(bad):
    with pytest.raises(ValueError, match="500m"):
        parse_cpu(bad)


@given(st.integers(min_value=0, max_value=2**50))
def test_memory_round_trip(size):
    assert parse_memory(format_memory(size)) == size


@given(st.integers(min_value=0, max_value=10**7))
def test_cpu_round_trip(millis):
    assert parse_cpu(format_cpu(millis)) == millis


def test_kept_values_keep_their_type():
    """The parsers keep results per value: True (equal to 1 and 1.0 in Python) must not be
    answered as the 1.0 before it, and a refusal is never kept as an answer."""
    assert parse_cpu(1.0) == 1000
    with pytest.raises(ValueError, match="not a quantity"):
        parse_cpu(True)
    assert parse_memory(1.0) == 1  # type: ignore[arg-type]  # what a caller may pass anyway
    with pytest.raises(ValueError, match="not a quantity"):
        parse_memory(True)
    for _ in range(2):
        with pytest.raises(ValueError, match="not a quantity"):
            parse_memory("8 GB")


@pytest.mark.parametrize("huge", ["9" * 400 + "Ei", "10Ei", "1" + "0" * 30])
def test_memory_past_any_machine_is_said_not_an_overflow(huge):
    """Found from outside: 400 digits of Ei raised OverflowError ("this is a bug")."""
    with pytest.raises(ValueError, match="larger than any machine's: at most 8Ei"):
        parse_memory(huge)


@pytest.mark.parametrize("huge", [float("inf"), float("nan"), 1e400, 1e300, "9" * 400])
def test_cpu_past_any_machine_is_said_not_an_overflow(huge):
    with pytest.raises(ValueError, match="more than any machine has"):
        parse_cpu(huge)


@given(st.floats() | st.integers() | st.text(max_size=50))
def test_parsing_a_quantity_raises_nothing_but_value_error(value):
    for parse in (parse_cpu, parse_memory):
        with contextlib.suppress(ValueError):
            assert parse(value) >= 0
