"""Workload metrics: numbers only, names that cannot carry text, lines split safely."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from kindfleet.platform.agent.metrics import (
    MAX_PER_POINT,
    MAX_PER_SAMPLE,
    LineSplitter,
    chunks,
    merge,
    parse_json_line,
    parse_stdout_line,
)


def test_json_lines_keep_only_finite_numbers():
    line = '{"loss": 0.5, "step": 3, "ok": true, "tag": "x", "nan": NaN, "nested": {"a": 1}}'
    assert parse_json_line(line) == {"loss": 0.5, "step": 3.0}


def test_json_lines_that_are_not_objects_give_nothing():
    for line in ("[1, 2]", "3", "not json", "", '{"a": 1e999}'):
        assert parse_json_line(line) == {}


def test_stdout_lines_need_the_prefix_and_numeric_values():
    assert parse_stdout_line("KINDFLEET_METRIC loss=0.25 step=10 note=text bare") == {
        "loss": 0.25,
        "step": 10.0,
    }
    assert parse_stdout_line("  KINDFLEET_METRIC  acc=1e-3") == {"acc": 0.001}
    assert parse_stdout_line("epoch 1 loss=0.3") == {}
    assert parse_stdout_line("KINDFLEET_METRICS loss=1") == {}
    assert parse_stdout_line("KINDFLEET_METRIC inf=inf x=nan") == {}


def test_names_that_could_smuggle_text_are_dropped():
    long_name = "a" * 129
    assert parse_json_line(f'{{"{long_name}": 1, "ok_name.v2/x:y-z": 2}}') == {
        "ok_name.v2/x:y-z": 2.0
    }
    assert parse_stdout_line("KINDFLEET_METRIC 9lives=1 da$h=3 =4 x=") == {}


def test_chunks_fit_a_telemetry_point_and_merge_keeps_the_latest():
    many = {f"m{i:03d}": float(i) for i in range(150)}
    parts = chunks(many)
    assert [len(p) for p in parts] == [MAX_PER_POINT, MAX_PER_POINT, 150 - 2 * MAX_PER_POINT]
    assert merge(parts) == many
    assert merge([{"a": 1.0}, {"a": 2.0, "b": 3.0}]) == {"a": 2.0, "b": 3.0}


def test_line_splitter_keeps_partial_lines_and_drops_huge_ones():
    split = LineSplitter(max_line=10)
    assert split.feed(b"one\ntw") == ["one"]
    assert split.feed(b"o\nthree") == ["two"]
    assert split.feed(b"\n") == ["three"]
    assert split.feed(b"x" * 25) == []  # too long: dropped, up to its end of line
    assert split.feed(b"yyy\nfour\n") == ["four"]
    assert split.feed(b"\xff\xfe\n") == ["\ufffd\ufffd"]


@given(st.lists(st.binary(max_size=30), max_size=20))
def test_line_splitter_yields_the_same_lines_however_the_bytes_arrive(pieces):
    data = b"".join(pieces)
    split = LineSplitter(max_line=1000)
    got = [line for piece in pieces for line in split.feed(piece)]
    expected = [p.decode("utf-8", errors="replace") for p in data.split(b"\n")[:-1]]
    assert got == expected


@given(st.dictionaries(st.text(max_size=20), st.floats(allow_nan=True, allow_infinity=True)))
def test_parsed_json_metrics_are_always_finite_numbers(data):
    import json

    for name, value in parse_json_line(json.dumps(data)).items():
        assert math.isfinite(value)
        assert name in data


def test_a_name_with_a_line_break_is_not_a_name():
    """Python's `$` matches before a final newline: names are matched whole."""
    assert parse_json_line('{"loss\\n": 1, "ok": 2}') == {"ok": 2.0}


def test_a_run_that_invents_names_sends_a_bounded_sample():
    """Found from outside: a run writing a new metric name per line had its agent send
    160,000 values in 8 s. A sample carries at most MAX_PER_SAMPLE names, the same ones
    (those that sort first) every time."""
    flood = {f"m{i:06d}": float(i) for i in range(10_000)}
    parts = chunks(flood)
    kept = [name for part in parts for name in part]
    assert len(kept) == MAX_PER_SAMPLE and len(parts) == MAX_PER_SAMPLE // 64
    assert kept == sorted(flood)[:MAX_PER_SAMPLE]
