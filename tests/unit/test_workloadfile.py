"""`kindfleet submit --spec FILE`: a hostile file is one clear error (the field, the fix),
never a traceback; a good one is its workloads."""

from __future__ import annotations

import pytest

from kindfleet import workloadfile
from kindfleet.errors import KindfleetError


def _laughs(levels: int) -> str:
    """Aliases of aliases: 9**levels strings for a few hundred bytes of YAML."""
    lines = ['x0: &x0 ["a","a","a","a","a","a","a","a","a"]']
    lines += [f"x{i}: &x{i} [" + ",".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines)


HOSTILE = {
    "deep nesting": ("name: x\ncommand: " + "[" * 3000 + "]" * 3000, "nested too deeply"),
    "not YAML": ("name: [", "is not valid YAML"),
    "a scalar": ("42", "must hold a workload"),
    "an empty list": ("[]", "must hold a workload"),
    "a list of scalars": ("- a\n- b", "must hold a workload"),
    "an empty command, shared by an alias": (
        "- name: w\n  command: &c []\n- name: v\n  command: *c\n",
        "[1].command",  # each named by its place in the list
    ),
    "a billion laughs": (
        "- " + _laughs(8).replace("\n", "\n  ") + "\n  name: w\n  command: *x7",
        "unknown field",
    ),
    "NUL in a label": ('name: w\ncommand: ["true"]\nlabels: {a: "b\\0c"}', "labels.a"),
    "binary": ("\x00\x01\x02", "is not valid YAML"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_file_is_one_clear_error(tmp_path, case):
    text, says = HOSTILE[case]
    path = tmp_path / "work.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KindfleetError) as caught:
        workloadfile.from_path(path)
    assert says in str(caught.value), str(caught.value)
    assert len(str(caught.value)) < 4000  # the problems named, not the file echoed


def test_a_directory_or_nothing_there_says_so(tmp_path):
    with pytest.raises(KindfleetError, match="is a directory"):
        workloadfile.from_path(tmp_path)
    with pytest.raises(KindfleetError, match="does not exist"):
        workloadfile.from_path(tmp_path / "none.yaml")


def test_a_good_file_is_its_workloads(tmp_path):
    path = tmp_path / "work.yaml"
    path.write_text('- {name: a, command: ["true"]}\n- {name: b, command: ["false"]}\n')
    assert [w.name for w in workloadfile.from_path(path)] == ["a", "b"]
