from __future__ import annotations

import textwrap

import pytest

from kindfleet.errors import SpecError
from kindfleet.fleetspec import FleetSpec, from_text

HEAD = "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: t\n"


def fleet(body: str = "", head: str = HEAD) -> FleetSpec:
    return from_text(head + textwrap.dedent(body))


def problems(body: str, head: str = HEAD) -> dict[str, str]:
    """path -> message (+fix) of every problem the file has."""
    with pytest.raises(SpecError) as caught:
        fleet(body, head)
    return {p.path: p.render() for p in caught.value.problems}
