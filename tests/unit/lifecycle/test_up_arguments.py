"""`Fleet.up`'s arguments from Python: refused in the API's own words (with the CLI flag
they come from) before anything starts. Found from outside: `up(wait=-1)` started the hub,
then failed the fleet as never ready "within -1s"; `up(parallel=0)` named only `--parallel`."""

from __future__ import annotations

import pytest

from kindfleet import Fleet
from kindfleet.errors import UsageError
from tests.conftest import EXAMPLES


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"wait": -1}, "wait (--wait) is -1"),
        ({"wait": 0}, "wait (--wait) is 0"),
        ({"wait": float("nan")}, "wait (--wait) is nan"),
        ({"parallel": 0}, "parallel (--parallel) is 0"),
    ],
)
def test_a_bad_argument_is_refused_before_anything_starts(tmp_path, arguments, says):
    fleet = Fleet.from_path(EXAMPLES / "local.yaml", state_dir=tmp_path / "state")
    with pytest.raises(UsageError, match=r"^" + says.replace("(", r"\(").replace(")", r"\)")):
        fleet.up(preflight=False, **arguments)
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())
