"""`kindfleet spokes token --ttl`: a duration a join token may have, or one clear error
naming the option (a week and more was pydantic's ValidationError, "a bug in kindfleet")."""

from __future__ import annotations

import pytest

from kindfleet.cli.spokes import duration
from kindfleet.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("30m", 1800), ("2h", 7200), ("7d", 604800)]
)
def test_a_duration_is_its_seconds(text, seconds):
    assert duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "says"),
    [("8d", "longer than a join token may live"), ("200h", "longer"), ("1000000", "longer"),
     ("0", "is not a duration"), ("", "is not a duration"), ("nan", "is not a duration")],
)  # fmt: skip
def test_a_duration_it_cannot_have_names_the_option(text, says):
    with pytest.raises(UsageError, match="--ttl") as caught:
        duration(text)
    assert says in caught.value.message and caught.value.exit_code == 2
