"""The load report's rates agree with its own figures: a reader (or a test) dividing the
shown workloads by the shown seconds gets the shown rate."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kindfleet.load.run import LoadResult

seconds = st.floats(min_value=0.0, max_value=10_000.0, allow_nan=False)


def result(accepted: int, submit: float, work: float) -> LoadResult:
    return LoadResult(
        fleet="f",
        requests=accepted,
        accepted=accepted,
        errors={},
        lost=0,
        duplicated=0,
        submit_seconds=submit,
        total_seconds=submit + work,
        work_seconds=work,
        states={"Succeeded": accepted},
    )


@given(st.integers(min_value=0, max_value=10_000_000), seconds, seconds)
def test_rates_are_of_the_seconds_shown(accepted: int, submit: float, work: float) -> None:
    shown = result(accepted, submit, work).summary()
    for rate, span in (
        ("submit_per_second", "submit_seconds"),
        ("finished_per_second", "work_seconds"),
    ):
        expected = round(accepted / shown[span], 1) if shown[span] else 0.0
        assert shown[rate] == expected


def test_a_span_on_a_rounding_edge():
    # 60 / 2.4047 is 24.95..., which rounds to 25.0; the report shows 2.405 s, and
    # 60 / 2.405 rounds to 24.9: the rate shown must be the one its seconds give.
    shown = result(60, 1.0, 2.4047).summary()
    assert (shown["work_seconds"], shown["finished_per_second"]) == (2.405, 24.9)
