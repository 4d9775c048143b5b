import pytest

from kindfleet.errors import UsageError
from kindfleet.faults import MAX_HOLD, format_duration, parse_duration, parse_percent


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60), ("2m", 120), ("1h30m", 5400), ("500ms", 0.5), ("90", 90), ("1.5s", 1.5)],
)
def test_durations_as_people_write_them(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1x", "s", "-5s", "0s", "1 m", "tomorrow", "1h-2m"])
def test_a_bad_duration_says_how_to_write_one(text):
    with pytest.raises(UsageError) as err:
        parse_duration(text)
    assert "--for" in err.value.message
    assert "60s" in (err.value.hint or "")


def test_percent_and_short_forms():
    assert parse_percent("5%") == 5.0
    assert parse_percent("0.5") == 0.5
    with pytest.raises(UsageError):
        parse_percent("101%")
    with pytest.raises(UsageError):
        parse_percent("lots")
    assert format_duration(3725) == "1h02m"
    assert format_duration(150) == "2m30s"
    assert format_duration(1.25) == "1.2s"


@pytest.mark.parametrize("text", ["100000000h", "169h", "9" * 400])
def test_a_for_past_its_cap_is_refused_naming_the_range(text):
    with pytest.raises(UsageError) as err:
        parse_duration(text, most=MAX_HOLD)
    assert f"--for {text!r} is out of range" in err.value.message
    assert "more than 0 and at most 168h" in err.value.message
    assert parse_duration("168h", most=MAX_HOLD) == MAX_HOLD
