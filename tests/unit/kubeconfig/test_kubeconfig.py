"""Kubeconfig as pure functions, and the writer: lock, 0600, atomic replace."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kindfleet import kubeconfig as kc


def entry(name, server="https://127.0.0.1:6443"):
    """What `kind get kubeconfig --name <name>` gives, reduced to its shape."""
    key = f"kind-{name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": key, "cluster": {"server": server, "certificate-authority-data": "Q0E="}}
        ],
        "users": [{"name": key, "user": {"client-certificate-data": "Q0VSVA=="}}],
        "contexts": [{"name": key, "context": {"cluster": key, "user": key}}],
        "current-context": key,
    }


USER_FILE = """\
apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- name: prod
  cluster: {server: "https://prod.example:443"}
users:
- name: me
  user: {token: secret}
contexts:
- name: prod
  context: {cluster: prod, user: me, namespace: team-a}
  extensions: [{name: keep-me, extension: {x: 1}}]
current-context: prod
x-vendor-key: kept
"""


def test_parse_empty_and_none_give_an_empty_config():
    assert kc.parse("") == kc.empty()
    assert kc.parse("\n\n") == kc.empty()
    assert kc.parse("clusters: null\n")["clusters"] == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("clusters: 3\n", "must be a list"),
        ("x: " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ],
)
def test_parse_rejects_what_is_not_a_kubeconfig(text, needle):
    with pytest.raises(kc.KubeconfigError, match=needle):
        kc.parse(text, source="x.yaml")


def test_a_file_too_deep_to_write_back_is_a_kubeconfig_error():
    """Read (under the parser's limit), then too deep for PyYAML's writer: one clear error
    rather than an unexpected RecursionError from `update`."""
    for depth in range(300, 1000, 50):
        try:
            config = kc.parse("x: " + "[" * depth + "]" * depth, source="f")
            kc.dump(config)
        except kc.KubeconfigError:
            return
    pytest.fail("no depth was refused")


def test_merge_appends_new_entries_and_keeps_unknown_keys():
    base = kc.parse(USER_FILE)
    merged = kc.merge(base, entry("hub"))
    assert kc.context_names(merged) == ["prod", "kind-hub"]
    assert merged["preferences"] == {"colors": True}
    assert merged["x-vendor-key"] == "kept"
    assert merged["contexts"][0]["extensions"] == [{"name": "keep-me", "extension": {"x": 1}}]
    assert merged["current-context"] == "prod"  # the incoming file's current is not taken
    assert base == kc.parse(USER_FILE)  # inputs are not modified


def test_merge_replaces_by_name_in_place():
    first = kc.merge(kc.merge(kc.empty(), entry("hub", "https://127.0.0.1:1")), entry("spoke"))
    again = kc.merge(first, entry("hub", "https://127.0.0.1:2"))
    assert kc.context_names(again) == ["kind-hub", "kind-spoke"]
    assert [c["name"] for c in again["clusters"]] == ["kind-hub", "kind-spoke"]
    assert kc.server(again, "kind-hub") == "https://127.0.0.1:2"
    assert kc.merge(again, entry("x"), current="kind-x")["current-context"] == "kind-x"


def test_remove_context_takes_its_cluster_and_user_and_clears_current():
    config = kc.merge(
        kc.merge(kc.parse(USER_FILE), entry("hub")), entry("spoke"), current="kind-hub"
    )
    out = kc.remove_context(config, "kind-hub")
    assert kc.context_names(out) == ["prod", "kind-spoke"]
    assert [c["name"] for c in out["clusters"]] == ["prod", "kind-spoke"]
    assert [u["name"] for u in out["users"]] == ["me", "kind-spoke"]
    assert out["current-context"] == ""
    assert kc.remove_context(out, "absent") == out


def test_remove_context_keeps_a_cluster_another_context_still_uses():
    config = kc.merge(kc.parse(USER_FILE), entry("hub"))
    config["contexts"].append(
        {"name": "me-on-hub", "context": {"cluster": "kind-hub", "user": "me"}}
    )
    out = kc.remove_context(config, "kind-hub")
    assert kc.context_names(out) == ["prod", "me-on-hub"]
    assert [c["name"] for c in out["clusters"]] == ["prod", "kind-hub"]
    assert [u["name"] for u in out["users"]] == ["me"]


def test_rename_context_renames_its_cluster_and_user_too():
    out = kc.rename_context(entry("hub"), "kind-hub", "platform")
    assert kc.context_names(out) == ["platform"]
    assert out["contexts"][0]["context"] == {"cluster": "platform", "user": "platform"}
    assert out["clusters"][0]["name"] == "platform"
    assert out["users"][0]["name"] == "platform"
    assert out["current-context"] == "platform"


def test_use_context_needs_the_context():
    config = kc.merge(kc.empty(), entry("hub"))
    assert kc.use_context(config, "kind-hub")["current-context"] == "kind-hub"
    with pytest.raises(kc.KubeconfigError, match=r"no context 'kind-nope' \(contexts: kind-hub\)"):
        kc.use_context(config, "kind-nope")


def test_server_of_a_context():
    config = kc.parse(USER_FILE)
    assert kc.server(config, "prod") == "https://prod.example:443"
    assert kc.server(config, "other") is None


@pytest.mark.parametrize(
    ("explicit", "env", "expected"),
    [
        ("ci.yaml", {"KUBECONFIG": "/a:/b"}, "ci.yaml"),
        (None, {"KUBECONFIG": f"/a{os.pathsep}/b"}, "/a"),
        (None, {"KUBECONFIG": f"{os.pathsep}/b"}, "/b"),
        (None, {}, "/home/u/.kube/config"),
        (None, {"KUBECONFIG": ""}, "/home/u/.kube/config"),
    ],
)
def test_target_path(explicit, env, expected):
    assert kc.target_path(explicit, env, Path("/home/u")) == Path(expected)


def test_target_path_is_kubectls_first_existing_file(tmp_path):
    """KUBECONFIG=missing:existing: kubectl writes new contexts into `existing` (the first
    file that exists; the first listed only when none does); kindfleet made `missing`."""
    missing, existing = tmp_path / "missing", tmp_path / "existing"
    env = {"KUBECONFIG": f"{missing}{os.pathsep}{existing}"}
    assert kc.target_path(None, env, tmp_path) == missing  # none exists: the first
    existing.write_text("")
    assert kc.target_path(None, env, tmp_path) == existing


names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)


@given(st.lists(names, unique=True, max_size=5), st.lists(names, unique=True, max_size=5))
def test_merging_then_removing_leaves_the_users_own_entries(mine, fleet):
    base = kc.empty()
    for name in mine:
        base = kc.merge(
            base, {k: v for k, v in entry(f"u-{name}").items() if k != "current-context"}
        )
    merged = base
    for name in fleet:
        merged = kc.merge(merged, entry(f"f-{name}"))
    for name in fleet:
        merged = kc.remove_context(merged, f"kind-f-{name}")
    assert merged == base


# Entries other tools (or hands) left in a file: anything YAML holds, in any section.
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "cluster", "user", "context", "x"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from(list(kc.SECTIONS)), st.lists(junk, max_size=4)))
def test_entries_of_any_shape_are_kept_and_never_break_a_change(theirs):
    """A named entry of the fleet is merged, used, renamed and removed beside whatever the
    file holds: entries without a name, named by a list or a number, contexts of any shape.
    Only what names the fleet's cluster is touched; the rest is kept as it was."""
    base = kc.parse(yaml.safe_dump(theirs), source="f")
    merged = kc.merge(base, entry("z"))
    assert "kind-z" in kc.context_names(merged)
    assert kc.use_context(merged, "kind-z")["current-context"] == "kind-z"
    assert kc.server(merged, "kind-z") == "https://127.0.0.1:6443"
    renamed = kc.rename_context(merged, "kind-z", "kind-y")
    assert "kind-y" in kc.context_names(renamed)
    removed = kc.remove_context(merged, "kind-z")
    assert "kind-z" not in kc.context_names(removed)
    for section in kc.SECTIONS:  # theirs, every one, in its place
        assert [e for e in removed[section] if not _is_z(e)] == [
            e for e in base[section] if not _is_z(e)
        ]
    assert kc.parse(kc.dump(removed)) == removed


def _is_z(entry: object) -> bool:
    return isinstance(entry, dict) and entry.get("name") == "kind-z"


# --- the writer ----------------------------------------------------------------------


def test_update_writes_0600_and_creates_the_directory(tmp_path):
    path = tmp_path / "nested" / "config"
    kc.KubeconfigFile(path).update(lambda c: kc.merge(c, entry("hub")))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert kc.context_names(yaml.safe_load(path.read_text())) == ["kind-hub"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["config"]  # no temp file, no lock


def test_update_tightens_an_existing_files_mode_and_keeps_its_content(tmp_path):
    path = tmp_path / "config"
    path.write_text(USER_FILE)
    path.chmod(0o644)
    kc.KubeconfigFile(path).update(lambda c: kc.merge(c, entry("hub")))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = yaml.safe_load(path.read_text())
    assert data["x-vendor-key"] == "kept"
    assert data["users"][0] == {"name": "me", "user": {"token": "secret"}}


@pytest.mark.parametrize("dangling", [False, True])
def test_update_writes_through_a_symlink_as_kubectl_does(tmp_path, dangling):
    """~/.kube/config as a link into a dotfiles repository: the link was replaced by a
    file, and the user's own file no longer had the fleet's contexts (nor any later
    change)."""
    mine = tmp_path / "dotfiles" / "kube" / "config"
    mine.parent.mkdir(parents=True)
    if not dangling:
        mine.write_text(USER_FILE)
    link = tmp_path / ".kube" / "config"
    link.parent.mkdir()
    link.symlink_to(mine)
    kc.KubeconfigFile(link).update(lambda c: kc.merge(c, entry("hub")))
    assert link.is_symlink() and link.resolve() == mine
    assert "kind-hub" in kc.context_names(yaml.safe_load(mine.read_text()))
    assert stat.S_IMODE(mine.stat().st_mode) == 0o600
    assert sorted(p.name for p in link.parent.iterdir()) == ["config"]  # no lock left
    assert sorted(p.name for p in mine.parent.iterdir()) == ["config"]  # no temp file


def test_a_file_in_a_directory_that_cannot_be_written_is_a_kubeconfig_error(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    with pytest.raises(kc.KubeconfigError, match="cannot write") as raised:
        kc.KubeconfigFile(blocked / "config")._write(kc.empty())
    assert raised.value.hint


def test_parallel_updates_lose_nothing(tmp_path):
    target = kc.KubeconfigFile(tmp_path / "config")
    threads = [
        threading.Thread(target=target.update, args=(lambda c, n=n: kc.merge(c, entry(f"c{n}")),))
        for n in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kc.context_names(target.read())) == sorted(f"kind-c{n}" for n in range(16))


def test_a_held_lock_is_waited_for_then_reported(tmp_path):
    path = tmp_path / "config"
    lock = tmp_path / "config.lock"
    lock.write_text("")  # kubectl or kind is writing
    with pytest.raises(kc.KubeconfigError, match="held by another writer") as caught:
        kc.KubeconfigFile(path, lock_timeout=0.2).update(lambda c: c)
    assert str(lock) in caught.value.hint
    assert not path.exists()
    lock.unlink()
    kc.KubeconfigFile(path, lock_timeout=0.2).update(lambda c: kc.merge(c, entry("a")))
    assert path.exists()


def test_a_failing_change_leaves_the_file_alone(tmp_path):
    path = tmp_path / "config"
    path.write_text(USER_FILE)

    def boom(config):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        kc.KubeconfigFile(path).update(boom)
    assert path.read_text() == USER_FILE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def test_a_file_that_is_no_kubeconfig_is_refused_before_work_is_done(tmp_path):
    """Found from outside: an unparseable kubeconfig was found only once every cluster of
    `up` was built, which were then removed."""
    path = tmp_path / "config"
    path.write_text("clusters: [\n")
    with pytest.raises(kc.KubeconfigError, match="config"):
        kc.KubeconfigFile(path).check_writable()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user takes root")
def test_a_kubeconfig_written_by_root_stays_its_owners(tmp_path):
    """Found from outside (`sudo -E kindfleet up`): the written file was root's 0600, and
    its owner could no longer read their own kubeconfig."""
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    os.chown(path, 1234, 1234)
    kc.KubeconfigFile(path).update(lambda config: config)
    info = path.stat()
    assert (info.st_uid, info.st_gid) == (1234, 1234)
    assert stat.S_IMODE(info.st_mode) == 0o600


@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None, reason="needs another user to be"
)
def test_another_users_kubeconfig_is_refused_before_work_is_done():
    """Found in review: a kubeconfig of another user's (left by `sudo kind ...`) in a
    directory this user can write was found only when `up` wrote it, after every cluster
    was built. Checked as a user who does not own the file (root may: it gives it back)."""
    code = (
        "import sys; from kindfleet import kubeconfig as kc\n"
        "try:\n    kc.KubeconfigFile(sys.argv[1]).check_writable()\n"
        "except kc.KubeconfigError as e:\n    print(e.message)\n"
    )
    folder = Path(tempfile.mkdtemp(dir="/tmp"))  # one that user can look into
    try:
        folder.chmod(0o755)
        path = folder / "config"
        path.write_text("apiVersion: v1\nkind: Config\n")
        argv = [sys.executable, "-c", code, str(path)]
        if os.geteuid() == 0:  # as nobody, on a file root owns
            argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
        else:  # on a file of root's
            argv[-1] = "/etc/hostname"
        said = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert "belongs to uid 0" in said.stdout, said.stderr
    finally:
        shutil.rmtree(folder)
