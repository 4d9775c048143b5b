"""Reading the YAML: values as kind reads them, and every malformed file a clean error."""

import json

import pytest
import yaml

from kindfleet.errors import SpecError
from kindfleet.fleetspec import from_path, from_text, yamlread
from kindfleet.fleetspec.yamlread import MAX_DEPTH, read
from kindfleet.render.kindconfig import render_fleet
from tests.conftest import EXAMPLES
from tests.kindvalidate import fleet_configs, kind_validate, needs_kind_validate
from tests.unit.fleetspec.helpers import HEAD, fleet, problems

_DEEP = HEAD + "hub: {kindConfig: {x: " + "[" * 600 + "]" * 600 + "}}\n"

# Values YAML 1.1 would retype, as a label map in a fleet file.
WRITTEN = {
    "country": "no",
    "ver": "1.10",
    "hex": "0x1F",
    "oct": "0o17",
    "exp": "1e3",
    "y": "y",
    "on": "on",
    "gpu": "true",
    "big": "True",
    "nul": "null",
    "tilde": "~",
    "empty": "",
}
# What kind itself makes of them (checked below with kind-validate): the text as written,
# nulls as "".
AS_KIND_READS = {**WRITTEN, "nul": "", "tilde": "", "empty": ""}


def _labels_yaml(labels):
    return "{" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}"


def test_label_values_keep_the_text_as_written():
    spec = fleet(f"hub: {{nodes: [{{role: control-plane, labels: {_labels_yaml(WRITTEN)}}}]}}\n")
    assert dict(spec.hub.nodes[0].labels) == AS_KIND_READS
    assert render_fleet(spec)["t-hub"]["nodes"][0]["labels"] == AS_KIND_READS


@needs_kind_validate
def test_kind_reads_the_same_labels_from_a_kind_config_and_from_our_render():
    """The oracle: the labels kind takes from a config written by hand with these plain
    values equal both kindfleet's reading of the fleet file and kind's reading of our
    rendered config."""
    by_hand = (
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n"
        f"- role: control-plane\n  labels: {_labels_yaml(WRITTEN)}\n"
    )
    spec = fleet(f"hub: {{nodes: [{{role: control-plane, labels: {_labels_yaml(WRITTEN)}}}]}}\n")
    (name, rendered, _), *_ = fleet_configs(spec)
    verdicts = kind_validate({"by hand": by_hand, name: rendered}, print_config=True)
    kinds = {
        label: json.loads(v.output[v.output.index("{") :])["Nodes"][0]["Labels"]
        for label, v in verdicts.items()
    }
    assert kinds["by hand"] == dict(spec.hub.nodes[0].labels) == kinds[name] == AS_KIND_READS


def test_other_fields_read_yaml_1_2_core():
    doc = read("a: no\nb: on\nc: 0x1F\nd: 0o17\ne: 1e3\nf: .inf\ng: TRUE\nh: ~\ni: 1_000\n")
    assert doc.data == {
        "a": "no",
        "b": "on",
        "c": 31,
        "d": 15,
        "e": 1000.0,
        "f": float("inf"),
        "g": True,
        "h": None,
        "i": "1_000",
    }
    assert doc.texts[("c",)] == "0x1F"


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ("spokes: !!int three\n", "spokes", "'!!int three' is not a valid int"),
        ("registry: !!bool maybe\n", "registry", "'!!bool maybe' is not a valid bool"),
        ("hub: {name: !!timestamp yesterday}\n", "hub.name", "tag !!timestamp"),
        ("spokes: !!int\n", "spokes", "'!!int' is not a valid int"),
        ("hub: !!binary aGVsbG8=\n", "hub", "tag !!binary"),
        ("hub: !custom {}\n", "hub", "tag !custom"),
        ("spokes: !!set {a, b}\n", "spokes", "tag !!set"),
        ("hub: {labels: {a: !!python/object x}}\n", "hub.labels.a", "tag !!python/object"),
    ],
)
def test_explicit_tags_are_checked_not_crashed_on(body, path, words):
    found = problems(body)
    assert words in found[path]
    assert "line 4" in found[path]


def test_core_tags_that_fit_are_fine():
    spec = fleet("spokes: !!int 2\nhub: {name: !!str 123abc}\nregistry: !!bool true\n")
    assert [c.name for c in spec.clusters] == ["123abc", "t-spoke1", "t-spoke2"]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 600, 20_000])
def test_deep_nesting_is_an_error_not_a_recursion(depth):
    found = problems("hub:\n  kindConfig:\n    x: " + "[" * depth + "]" * depth + "\n")
    (message,) = found.values()
    # Ours, or libyaml's own limit (it stops at 1,000 levels before we see them).
    assert f"nests deeper than {MAX_DEPTH} levels" in message or "nesting depth" in message


def test_duplicate_keys_are_refused_with_both_lines():
    found = problems("hub:\n  name: a\n  nodes: []\n  name: b\nname: again\n")
    assert "lines 5 and 7" in found["hub.name"]
    assert "lines 3 and 8" in found["name"]
    assert len(found) == 2  # every repeated key, in one report


def test_duplicate_keys_in_flow_maps_and_labels():
    found = problems("hub: {labels: {a: x, a: y}}\n")
    assert "written twice" in found["hub.labels.a"]


def test_anchors_aliases_and_merge_keys_work():
    spec = fleet("""
        hub:
          nodes:
            - &cp {role: control-plane, labels: &lbl {plane: management}}
            - {role: worker, labels: *lbl}
        spokes:
          - &base {labels: {tier: std}, networking: {cni: calico}}
          - <<: *base
            labels: {tier: premium}
        """)
    assert spec.hub.nodes[1].labels == {"plane": "management"}
    assert spec.spokes[1].networking.cni == "calico"
    assert spec.spokes[1].labels == {"tier": "premium"}  # written keys win over merged ones


def test_billion_laughs_is_refused_quickly():
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    text = HEAD + "hub:\n  kindConfig:\n" + "".join(f"    {line}\n" for line in lines)
    with pytest.raises(SpecError) as caught:
        from_text(text)
    assert "alias bomb" in caught.value.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: &x [*x]\n", "refers to a value that contains it"),
        ("a: *nowhere\n", "has no anchor &nowhere"),
        ("? [a, b]\n: c\n", "a key must be a plain name"),
        ("a: <<\nb: {<<: 3}\n", "can only merge maps"),
    ],
)
def test_alias_and_key_misuse(text, words):
    with pytest.raises(SpecError) as caught:
        read(text)
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("raw", "expect"),
    [
        ("\ufeff" + HEAD, "t"),  # a BOM
        (HEAD.replace("\n", "\r\n"), "t"),  # CRLF
        ((HEAD).encode("utf-16"), "t"),  # UTF-16 with its BOM, as YAML allows
        ((HEAD).encode("utf-32"), "t"),  # UTF-32 too (libyaml alone refused it)
        (b"\x00\x00\xfe\xff" + (HEAD).encode("utf-32-be"), "t"),
    ],
)
def test_encodings_and_line_ends(raw, expect):
    assert from_text(raw).name == expect


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (HEAD.encode() + b"hub: {name: \xff\xfe}\n", "not valid YAML"),
        (HEAD + "hub:\n\tname: x\n", "not valid YAML"),
        (HEAD + "hub: {name: a\x00b}\n", "not valid YAML"),
        ("", "is empty"),
        ("---\n---\n", "is empty"),
        (HEAD + "---\n" + HEAD, "more than one YAML document (another starts at line 4)"),
    ],
)
def test_broken_files_are_one_clean_problem(raw, words):
    with pytest.raises(SpecError) as caught:
        from_text(raw)
    assert words in caught.value.message
    assert caught.value.exit_code == 2


def test_bytes_not_utf8_are_told_to_be_utf8_not_to_indent_with_spaces():
    """Found from outside: "unacceptable character" holds "tab", and got the tab advice."""
    with pytest.raises(SpecError) as caught:
        from_text(HEAD.encode() + "hub: {name: j\u00f6rg}\n".encode("latin-1"))
    assert "save the file as UTF-8" in caught.value.message
    assert "spaces" not in caught.value.message


def test_tabs_get_a_fix():
    with pytest.raises(SpecError) as caught:
        from_text(HEAD + "hub:\n\tname: x\n")
    assert "spaces" in caught.value.message


def test_a_trailing_empty_document_is_fine():
    assert from_text(HEAD + "---\n").name == "t"


def test_from_path_reads_bytes(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + HEAD.encode())
    assert from_path(path).name == "t"


@pytest.mark.parametrize("text", [(EXAMPLES / "five-spokes.yaml").read_text(), _DEEP])
def test_without_libyaml_the_python_parser_gives_the_same(monkeypatch, text):
    """PyYAML without its C extension: the same events, the same data and problems."""

    def outcome():
        try:
            return read(text)
        except SpecError as exc:
            return exc.message

    fast = outcome()
    monkeypatch.setattr(yamlread, "_Loader", yaml.SafeLoader)
    assert outcome() == fast
