"""Strings kindfleet writes come back as the same strings, whoever reads them."""

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kindfleet.kind.yamlscalars import core_kind, needs_quotes
from kindfleet.render.kindconfig import to_yaml
from tests.unit.render.test_kindconfig import AMBIGUOUS_VALUES


@pytest.mark.parametrize("value", [*AMBIGUOUS_VALUES, "~", "", ".inf", "-.5", "+1", "1:30"])
def test_every_retypeable_string_is_quoted(value):
    assert f"v: '{value}'" in to_yaml({"v": value})


@pytest.mark.parametrize("value", ["control-plane", "kindest/node:v1.35.8", "10.244.0.0/16", "a1"])
def test_plain_words_stay_plain(value):
    assert not needs_quotes(value)
    assert f"v: {value}\n" in to_yaml({"v": value})


@given(st.text(alphabet=st.sampled_from("0123456789.eE+-_xXoObB:aynNtfTF~ "), max_size=8))
def test_what_is_written_plain_is_a_string_to_every_reader(value):
    text = to_yaml({"v": value})
    assert yaml.safe_load(text) == {"v": value}  # YAML 1.1 (PyYAML)
    if not text.startswith(("v: '", 'v: "')):
        assert core_kind(value) == "str"  # YAML 1.2 core (Go YAML v3, kubeadm)
        assert not needs_quotes(value)
