"""A kubeconfig is read as kubectl reads it and written so that kubectl reads the same.

kubectl (and kind, and every client-go program) reads a kubeconfig with sigs.k8s.io/yaml,
Go's yaml.v2 turned into JSON: `10:30` and `2026-12-03T10:00:00Z` are strings there, `yes`,
`y` and `on` booleans, `0777` octal, `0o17`, `1_000` and `1e3` numbers. PyYAML's YAML 1.1
reading changed the user's values on a round trip (found by an outside attacker):
`password: 10:30` became `password: 630`, which kubectl then refused to load, and
`expiry: 2026-12-03T10:00:00Z` became `2026-12-03 10:00:00+00:00`.
"""

import json
import math
import shutil
import subprocess

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kindfleet import kubeconfig as kc

# (plain scalar, what kubectl reads it as)
PLAIN = [
    ("10:30", "10:30"),
    ("190:20:30", "190:20:30"),
    ("1:2:3.5", "1:2:3.5"),
    ("2026-12-03T10:00:00Z", "2026-12-03T10:00:00Z"),
    ("2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43.10 -5"),
    ("2002-12-14", "2002-12-14"),
    ("yes", True),
    ("Yes", True),
    ("y", True),
    ("Y", True),
    ("on", True),
    ("true", True),
    ("no", False),
    ("n", False),
    ("Off", False),
    ("False", False),
    ("oN", "oN"),
    ("~", None),
    ("null", None),
    ("Null", None),
    ("0777", 511),
    ("012", 10),
    ("00", 0),
    ("-0", 0),
    ("0o17", 15),
    ("0O17", 15),
    ("-0o17", -15),
    ("0x1F", 31),
    ("+0x1F", 31),
    ("0x_1F", 31),
    ("0b101", 5),
    ("-0b11", -3),
    ("0b-101", -5),
    ("0b2", "0b2"),
    ("1_000", 1000),
    ("1__0", 10),
    ("1_", 1),
    ("_1", "_1"),
    ("08", 8),
    ("0_8", 8),
    ("1e3", 1000),
    ("1E3", 1000),
    ("1.5e3", 1500),
    ("0.1e1", 1),
    ("1.", 1),
    (".5", 0.5),
    (".5e3", 500),
    (".5_5", 0.55),
    ("._5", "._5"),
    ("+.5", 0.5),
    ("-.5e-3", -0.0005),
    ("1_0.5", 10.5),
    ("1e400", "1e400"),
    (".1e400", ".1e400"),
    ("1e-400", 0),
    ("1e", "1e"),
    ("0x", "0x"),
    ("0o", "0o"),
    ("0xFFFFFFFFFFFFFFFFFF", "0xFFFFFFFFFFFFFFFFFF"),
    ("9223372036854775807", 9223372036854775807),
    ("18446744073709551615", 18446744073709551615),
    ("=", "="),
    ("+", "+"),
    ("NaN", "NaN"),
    ("inf", "inf"),
    ("Infinity", "Infinity"),
]


@pytest.mark.parametrize(("text", "value"), PLAIN)
def test_plain_scalars_are_read_as_kubectl_reads_them(text, value):
    got = kc.parse(f"x: {text}\n")["x"]
    assert got == value
    assert type(got) is type(value) or (type(value) is int and type(got) is float)


@pytest.mark.parametrize(
    ("text", "check"),
    [
        (".inf", lambda v: v == math.inf),
        ("-.Inf", lambda v: v == -math.inf),
        (".NaN", math.isnan),
    ],
)
def test_special_floats(text, check):
    assert check(kc.parse(f"x: {text}\n")["x"])


def test_the_attackers_file_round_trips_unchanged_in_meaning():
    text = """\
apiVersion: v1
kind: Config
users:
- name: u
  user:
    password: 10:30
    auth-provider:
      name: oidc
      config: {expiry: 2026-12-03T10:00:00Z}
"""
    once = kc.parse(text)
    user = once["users"][0]["user"]
    assert user["password"] == "10:30"
    assert user["auth-provider"]["config"]["expiry"] == "2026-12-03T10:00:00Z"
    written = kc.dump(once)
    assert "password: '10:30'" in written
    assert "expiry: '2026-12-03T10:00:00Z'" in written
    assert kc.parse(written) == once
    assert yaml.safe_load(written)["users"] == once["users"]  # a YAML 1.1 reader too


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("!!int 0777", 511),
        ("!!int 0o17", 15),
        ("!!float 1", 1.0),
        ("!!bool yes", True),
        ("!!null ''", None),
        ("!!timestamp 2026-12-03T10:00:00Z", "2026-12-03T10:00:00Z"),
        ("!!str 0777", "0777"),
        ("<<", "<<"),
        ("'0777'", "0777"),
        ('"yes"', "yes"),
    ],
)
def test_explicit_tags_quotes_and_odd_words(text, value):
    assert kc.parse(f"x: {text}\n")["x"] == value


def test_a_merge_key_still_merges():
    config = kc.parse("base: &b {a: 1}\nx:\n  <<: *b\n  c: 2\n")
    assert config["x"] == {"a": 1, "c": 2}


STRINGS = [
    "10:30",
    "2026-12-03T10:00:00Z",
    "yes",
    "y",
    "n",
    "N",
    "on",
    "0777",
    "0o17",
    "0O17",
    "0X1F",
    "08",
    "0_8",
    "1e3",
    "1.5e3",
    ".5e3",
    ".5_5",
    "0b-101",
    "1_000",
    ".inf",
    ".nan",
    "~",
    "null",
    "",
    "<<",
    "=",
    "18446744073709551616",
]


def _quoted(text: str) -> bool:
    scalars = [e for e in yaml.parse(text) if isinstance(e, yaml.ScalarEvent)]
    return scalars[-1].style in ("'", '"')


@pytest.mark.parametrize("value", STRINGS)
def test_strings_any_reader_could_take_for_something_else_are_quoted(value):
    written = kc.dump({"x": value})
    assert _quoted(written), written
    assert kc.parse(written)["x"] == value
    assert yaml.safe_load(written)["x"] == value


@given(st.text(alphabet="0123456789+-._eExXoObB:ynYN~ ", max_size=8))
def test_any_string_comes_back_a_string(value):
    written = kc.dump({"x": value})
    assert kc.parse(written)["x"] == value
    assert yaml.safe_load(written)["x"] == value


@given(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6))
def test_any_value_survives_dump_then_parse(value):
    assert kc.parse(kc.dump({"x": value}))["x"] == value


# --- kubectl itself ------------------------------------------------------------------

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")

# Every kind of value kubectl loads: strings in its string fields (plain where kubectl
# reads a string, quoted where it would not) and anything in an extension.
USER_FILE = """\
apiVersion: v1
kind: Config
preferences: {}
clusters:
- name: prod
  cluster:
    server: https://prod.example:443
    extensions:
    - name: vendor
      extension: {a: yes, b: 0777, c: 1e3, d: ~, e: 10:30, f: 2026-12-03T10:00:00Z,
                  g: y, h: 0o17, i: 08, j: 1_000, k: on, l: .5, m: 0b-101, n: 'yes'}
users:
- name: me
  user:
    username: 10:30
    password: 2026-12-03T10:00:00Z
    auth-provider:
      name: oidc
      config: {a: 'yes', b: '0777', c: '1e3', d: '.inf', e: '~', f: 'y', g: '0o17',
               h: '08', i: '10:30', j: 190:20:30, k: 2026-12-03, l: '', m: '<<'}
contexts:
- name: prod
  context: {cluster: prod, user: me, namespace: "0777"}
current-context: prod
"""


def _kubectl_view(path) -> dict:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "config", "view", "--kubeconfig", str(path), "-o", "json", "--raw"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _without(view: dict, name: str) -> dict:
    return {
        k: [e for e in v if e.get("name") != name] if isinstance(v, list) else v
        for k, v in view.items()
    }


@needs_kubectl
def test_kubectl_reads_the_same_after_a_kindfleet_round_trip(tmp_path):
    path = tmp_path / "config"
    path.write_text(USER_FILE)
    before = _kubectl_view(path)
    assert before["users"][0]["user"]["password"] == "2026-12-03T10:00:00Z"
    hub = {
        "clusters": [{"name": "kind-hub", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "kind-hub", "user": {"token": "t"}}],
        "contexts": [{"name": "kind-hub", "context": {"cluster": "kind-hub", "user": "kind-hub"}}],
    }
    kc.KubeconfigFile(path).update(lambda config: kc.merge(config, hub))
    after = _kubectl_view(path)
    assert "kind-hub" in [c["name"] for c in after["contexts"]]
    assert _without(after, "kind-hub") == before
    kc.KubeconfigFile(path).update(lambda config: kc.remove_context(config, "kind-hub"))
    assert _kubectl_view(path) == before


@needs_kubectl
def test_plain_scalars_mean_to_kindfleet_what_they_mean_to_kubectl(tmp_path):
    """kubectl as the oracle, on every plain scalar of PLAIN that it can load."""
    values = [text for text, _ in PLAIN if text != "="]  # `=`: PyYAML's own failure
    extensions = "".join(
        f"    - name: e{i}\n      extension: {{v: {text}}}\n" for i, text in enumerate(values)
    )
    path = tmp_path / "config"
    path.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
        f"    server: https://x:443\n    extensions:\n{extensions}"
    )
    theirs = {
        e["name"]: e["extension"]["v"]
        for e in _kubectl_view(path)["clusters"][0]["cluster"]["extensions"]
    }
    ours = kc.parse(path.read_text())["clusters"][0]["cluster"]["extensions"]
    for i, text in enumerate(values):
        mine, kubectls = ours[i]["extension"]["v"], theirs[f"e{i}"]
        assert mine == kubectls and isinstance(mine, bool) == isinstance(kubectls, bool), text
        assert isinstance(mine, str) == isinstance(kubectls, str), text
