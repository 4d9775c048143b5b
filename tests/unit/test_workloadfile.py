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
    "deep nesting": ("name: x\ncommand: " + "[" * 3000 + "]" * 3000, "nesting depth"),
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
        "an alias bomb?",
    ),
    "NUL in a label": ('name: w\ncommand: ["true"]\nlabels: {a: "b\\0c"}', "labels.a"),
    "binary": ("\x00\x01\x02", "is not valid YAML"),
    # Found from outside: PyYAML's safe_load let the second of two keys win in silence.
    "a repeated key": (
        "name: a\ncommand: [x]\nresources: {gpu: 1}\nresources: {cpu: 100m}",
        "resources: is written twice (lines 3 and 4); keys may not repeat (keep one of them)",
    ),
    # Found from outside: a workload file's problems were told in a fleet file's words.
    "two documents": (
        "name: a\ncommand: [x]\n---\nname: b\ncommand: [y]\n",
        "a workload file holds exactly one (remove the `---` and what follows; for several "
        "workloads write a list)",
    ),
    "a tag": ("name: !!binary YQ==\ncommand: [x]\n", "is not used in workload files"),
    # ... and read 1.10 as 1.1, then told to quote it as "1.1": a value the user never wrote.
    "a number where text goes": (
        "name: a\ncommand: [x]\nenv: {FLAG: no, VER: 1.10, HEX: 0x1F}",
        'env.VER: must be a string, not the number 1.10 (quote it: "1.10")',
    ),
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


def test_a_list_of_bad_workloads_shows_a_hundred_and_counts_them_all(tmp_path):
    path = tmp_path / "work.yaml"
    path.write_text("\n".join(f"- {{name: 'bad name {i}', command: [x]}}" for i in range(150)))
    with pytest.raises(KindfleetError) as caught:
        workloadfile.from_path(path)
    said = str(caught.value)
    assert "(150 problems)" in said and "... and 50 more problems like these" in said
    assert said.count("\n  - ") == 101


def test_no_file_is_read_past_16_mib():
    """Found from outside: `--spec /dev/zero` was read until the memory ran out."""
    with pytest.raises(KindfleetError, match="is larger than 16 MiB"):
        workloadfile.from_path("/dev/zero")


def test_yaml_1_1_words_are_text(tmp_path):
    path = tmp_path / "work.yaml"
    path.write_text("name: a\ncommand: [x]\nenv: {FLAG: no, ON: on}\n")
    assert workloadfile.from_path(path)[0].env == {"FLAG": "no", "ON": "on"}


def test_a_directory_or_nothing_there_says_so(tmp_path):
    with pytest.raises(KindfleetError, match="is a directory"):
        workloadfile.from_path(tmp_path)
    with pytest.raises(KindfleetError, match="does not exist"):
        workloadfile.from_path(tmp_path / "none.yaml")


def test_a_good_file_is_its_workloads(tmp_path):
    path = tmp_path / "work.yaml"
    path.write_text('- {name: a, command: ["true"]}\n- {name: b, command: ["false"]}\n')
    assert [w.name for w in workloadfile.from_path(path)] == ["a", "b"]


@pytest.mark.parametrize(
    ("args", "labels", "expressions"),
    [
        (["gpu=true"], {"gpu": "true"}, []),
        (["gpu==true", "pool=gpu"], {"gpu": "true", "pool": "gpu"}, []),
        (["pool!=cpu"], {}, [{"key": "pool", "operator": "NotIn", "values": ["cpu"]}]),
        (["gpu"], {}, [{"key": "gpu", "operator": "Exists"}]),
        (["!gpu"], {}, [{"key": "gpu", "operator": "DoesNotExist"}]),
        (
            ["zone in (eu-west, us-east),tier notin (x)"],
            {},
            [
                {"key": "zone", "operator": "In", "values": ["eu-west", "us-east"]},
                {"key": "tier", "operator": "NotIn", "values": ["x"]},
            ],
        ),
        (
            ["kindfleet.dev/pool=gpu, region"],
            {"kindfleet.dev/pool": "gpu"},
            [{"key": "region", "operator": "Exists"}],
        ),
        ([], {}, []),
    ],
)
def test_selector_flags_read_as_kubectl_reads_a_label_selector(args, labels, expressions):
    assert workloadfile.selector_from(args) == {
        "match_labels": labels,
        "match_expressions": expressions,
    }


@pytest.mark.parametrize(
    ("arg", "says"),
    [
        ("gpu!", "not a label requirement"),  # once read as the key `gpu!`: Pending forever
        ("===", "not a label requirement"),
        ("a=b,,c", "'' is not a label requirement"),
        ("a@b=c", "label key 'a@b'"),
        ("pool=cpu,gpu", None),  # fine: two requirements
        ("zone in ()", "in needs at least one value"),
        ("zone in (a b)", "label value 'a b'"),
        ("!gpu=true", "'!' goes only before a bare key"),
        ("gpu=" + "x" * 64, "at most 63 characters"),
    ],
)
def test_a_selector_flag_kubectl_would_refuse_is_one_clear_error(arg, says):
    if says is None:
        assert workloadfile.selector_from([arg])["match_labels"] == {"pool": "cpu"}
        return
    with pytest.raises(KindfleetError) as caught:
        workloadfile.selector_from([arg])
    assert says in caught.value.message, caught.value.message
    assert "--selector" in caught.value.message


def test_a_key_asked_two_values_is_refused():
    with pytest.raises(KindfleetError, match="both 'a' and 'b'"):
        workloadfile.selector_from(["pool=a", "pool=b"])


@pytest.mark.parametrize("arg", ["team!=vision", "a@b=c", "team=a b", "=x", "team"])
def test_a_label_flag_that_is_no_label_is_one_clear_error(arg):
    with pytest.raises(KindfleetError) as caught:
        workloadfile.labels_from([arg], "--label")
    assert "--label" in caught.value.message


def test_label_flags_are_their_labels():
    assert workloadfile.labels_from(["team=vision", "tier="], "--label") == {
        "team": "vision",
        "tier": "",
    }


@pytest.mark.parametrize(
    ("key", "count", "says"),
    [
        ("", 1, "must not be empty"),  # was dropped: each submit made another workload
        (" ", 3, "must not be empty"),  # was `-0`, `-1`, `-2`: shared by every such run
        ("naïve", 1, "must be printable ASCII"),  # was a UnicodeEncodeError, "a bug"
        ("a\nb", 1, "must be printable ASCII"),  # was "cannot reach the hub"
        ("k" * 201, 1, "at most 200 characters"),  # was "an Idempotency-Key ... is required"
        ("k" * 199, 12, "`-<i>` is added to it"),  # its derived keys are too long
    ],
)
def test_a_key_the_hub_would_refuse_is_refused_before_anything_is_sent(key, count, says):
    with pytest.raises(KindfleetError, match="--key") as caught:
        workloadfile.idempotency_keys(key, count)
    assert says in caught.value.message
    assert caught.value.exit_code == 2


def test_good_keys_are_the_key_or_one_derived_per_workload():
    assert workloadfile.idempotency_keys("train-1", 1) == ["train-1"]
    assert workloadfile.idempotency_keys("k" * 198, 3) == [f"{'k' * 198}-{i}" for i in range(3)]
    assert workloadfile.idempotency_keys(None, 2) == [None, None]


def test_a_value_of_the_wrong_form_is_said_in_words_not_as_its_pattern():
    with pytest.raises(KindfleetError) as caught:
        workloadfile.from_flags(name="Bad_Name", command=["x"], cpu="lots", memory="1Zi")
    said = str(caught.value)
    assert "'lots' is not a CPU quantity (cores or millicores, e.g. 500m" in said
    assert "'1Zi' is not a memory quantity" in said and "'Bad_Name' is not a name" in said
    assert "(?:" not in said and "^" not in said  # the regular expressions were shown


GOOD_IMAGES = [
    "busybox",
    "python:3.11-slim",
    "library/nginx:latest",
    "ghcr.io/org/app_x__y--z:v1.2-rc.1",
    "localhost:5001/kindfleet/platform:0.1.0@sha256:" + "a" * 64,
    "[::1]:5000/app",
    "kindest/node:v1.33.1@sha256:" + "0123456789abcdef" * 4,
]
BAD_IMAGES = ["@@@", "Nginx", "nginx:", "nginx:-rc", "a//b", "a/", "/a", "nginx@sha256:abc",
              "nginx latest", "a:b:c", "-a", "a_", "registry:5000/", "x\x00y"]  # fmt: skip


@pytest.mark.parametrize("image", GOOD_IMAGES)
def test_an_image_reference_an_engine_takes_is_taken(image):
    spec = workloadfile.from_flags(name="a", command=["x"], image=image)
    assert spec.image == image


@pytest.mark.parametrize("image", BAD_IMAGES)
def test_an_image_no_engine_could_pull_is_refused_by_name_before_anything_runs(image):
    with pytest.raises(KindfleetError) as caught:
        workloadfile.from_flags(name="a", command=["x"], image=image)
    said = str(caught.value)
    assert "image:" in said and ("is not an image reference" in said or "NUL" in said)
    assert "(?:" not in said  # said in words, not as the pattern
