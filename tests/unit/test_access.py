"""`kindfleet logs --tail N`: the last lines of a run's log, as `kubectl logs --tail` cuts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kindfleet.access import last_lines


def test_the_last_lines_with_or_without_a_final_newline() -> None:
    assert last_lines("a\nb\nc\n", 2) == "b\nc\n"
    assert last_lines("a\nb\nc", 2) == "b\nc"  # an unfinished last line counts
    assert last_lines("a\n", 5) == "a\n"
    assert last_lines("a\nb\n", 0) == ""
    assert last_lines("", 3) == ""


@given(st.lists(st.text(alphabet="xy z", max_size=5), max_size=20), st.integers(0, 25))
def test_it_is_the_end_of_the_log_and_n_lines_at_most(lines: list[str], n: int) -> None:
    text = "".join(f"{line}\n" for line in lines)
    cut = last_lines(text, n)
    assert text.endswith(cut)
    assert cut.count("\n") == min(n, len(lines))


def test_only_newlines_end_lines() -> None:
    assert last_lines("a\n10%\r100%\n", 1) == "10%\r100%\n"  # a progress bar is one line
    assert last_lines('{"t": "x\u2028y"}\n', 1) == '{"t": "x\u2028y"}\n'
