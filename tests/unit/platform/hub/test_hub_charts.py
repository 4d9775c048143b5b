"""The dashboard's SVG charts draw any finite figure a spoke reports."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from kindfleet.platform.hub.ui.charts import bar_chart, line_chart

finite = st.floats(allow_nan=False, allow_infinity=False)


def numbers(chart) -> list[float]:
    text = " ".join([*getattr(chart, "paths", []), *(str(t.at) for t in chart.y_ticks)])
    text += " ".join(str(t.at) for t in chart.x_ticks)
    return [float(n) for n in re.findall(r"-?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)", text)]


def test_extreme_values_draw_inside_the_chart():
    """Found from outside: metrics of 1e308 and -1e308 drew y="nan" (their span is inf)."""
    chart = line_chart("loss", [[(0.0, 1e308), (10.0, -1e308), (20.0, 0.0)]])
    drawn = numbers(chart)
    assert drawn and all(math.isfinite(v) for v in drawn)
    assert "nan" not in " ".join(chart.paths) and "inf" not in " ".join(chart.paths)


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=30))
def test_any_finite_points_draw_finite_coordinates(points):
    chart = line_chart("m", [sorted(points)])
    assert all(math.isfinite(v) for v in numbers(chart))


@given(st.lists(st.floats(min_value=0, max_value=1e308), min_size=1, max_size=20))
def test_any_bars_draw_finite_coordinates(values):
    chart = bar_chart("b", [(float(i), v) for i, v in enumerate(values, 1)], width_x=1.0)
    for bar in chart.bars:
        assert all(math.isfinite(v) for v in (bar.x, bar.y, bar.width, bar.height))
