"""Plain YAML scalars: what type each reader on the way to a node gives them.

kindfleet reads fleet files with the YAML 1.2 core schema (`no` is a string, `0x1F` an
integer). What it writes is read again, by readers with other rules: kind's Go YAML
(YAML 1.1 words such as `y`, `on`, `off` are booleans there), kind's patch code, which
reads kubeadm patches into untyped maps (there `1234e56` becomes the float 1.234e+59, as
Go parses numbers with `0o`, `0b` and `_` too), and kubeadm. A string has to come out of
every one of them a string, so whenever any of them could read it as something else it
is written in quotes.
"""

from __future__ import annotations

import math
import re
from typing import Literal

ScalarKind = Literal["null", "bool", "int", "float", "str"]

# The YAML 1.2 core schema (yaml.org/spec/1.2.2, 10.3.2).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)

# What other readers on the way take for non-strings: YAML 1.1 booleans and nulls, and
# anything number-like by Go's or YAML 1.1's looser rules (underscores, 0b/0o/0x, 1:30).
_WORDS = frozenset(
    {"y", "yes", "n", "no", "on", "off", "true", "false", "null", "~", "inf", "nan", "infinity"}
)
_NUMBERISH = re.compile(
    r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$"
    r"|^[-+]?0[xXoObB][0-9a-fA-F_]+$"
    r"|^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$"
    r"|^[-+]?\.(?:inf|nan)$",
    re.IGNORECASE,
)


def core_kind(text: str) -> ScalarKind:
    """The type the YAML 1.2 core schema gives a plain (unquoted, untagged) scalar."""
    if _NULL.match(text):
        return "null"
    if _BOOL.match(text):
        return "bool"
    if _INT.match(text):
        return "int"
    if _FLOAT.match(text):
        return "float"
    return "str"


def matches(text: str, kind: ScalarKind) -> bool:
    """Whether `text` is a valid value of `kind` (for explicit tags such as `!!int 3`);
    an integer is also a valid float, as in YAML 1.2."""
    found = core_kind(text)
    return found == kind or (kind == "float" and found == "int") or kind == "str"


def core_value(text: str, kind: ScalarKind) -> bool | int | float | str | None:
    """The value of a scalar already known to match `kind`."""
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() == "true"
    if kind == "int":
        return _int(text)
    if kind == "float":
        return _float(text)
    return text


def _int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def _float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


def needs_quotes(text: str) -> bool:
    """Whether a string, written plain, could reach kind, its patch code or kubeadm as
    anything but this string (PyYAML itself quotes what YAML 1.1 would retype)."""
    return core_kind(text) != "str" or text.lower() in _WORDS or _NUMBERISH.match(text) is not None
