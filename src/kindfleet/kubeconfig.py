"""Kubeconfig files: pure functions over their content, and one careful writer.

A kubeconfig is usually the user's own (`~/.kube/config`), shared with kubectl, kind and
every other tool, so changes are surgical: entries are merged by name (replaced in place
or appended), keys kindfleet does not know are kept, and removal takes only a context as
kind writes it (its cluster and user named like it) with those entries. The writer takes
the same `<file>.lock` that kubectl and kind take, writes a temporary file with mode 0600
and renames it over the original, so a reader never sees a half-written file and a
parallel writer never loses an update. YAML is read as kubectl reads it (see below).

Which file to touch is the caller's decision (`target_path` gives the usual rule); nothing
here reaches for `~/.kube/config` on its own.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from kindfleet.errors import KindfleetError

Config = dict[str, Any]
SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}
LOCK_TIMEOUT_SECONDS = 10.0


class KubeconfigError(KindfleetError):
    """A kubeconfig file that cannot be read, parsed or written."""


def empty() -> Config:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": "",
    }


# --- YAML as kubectl reads it ---------------------------------------------------------
#
# kubectl, kind and every client-go program read a kubeconfig with sigs.k8s.io/yaml, that
# is Go's yaml.v2 turned into JSON. Its plain scalars are neither PyYAML's YAML 1.1 nor the
# YAML 1.2 core schema: `10:30` and `2026-12-03T10:00:00Z` are strings (PyYAML read the
# integer 630 and a datetime, and wrote back what kubectl then refused or read otherwise),
# `y`, `yes`, `on` are booleans, `0777` is octal, `0o17`, `0x1F`, `0b11`, `1_000` and `1e3`
# are numbers, an integer out of range is a float and a float out of range a string. So a
# file is read here as kubectl reads it, and every string is written so that neither kubectl
# nor a YAML 1.1 reader takes it for anything else: a round trip keeps each value's meaning.

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_MERGE = _TAG + "merge"
_WORDS: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), (_BOOL, True)),
    **dict.fromkeys(("true", "True", "TRUE"), (_BOOL, True)),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), (_BOOL, False)),
    **dict.fromkeys(("false", "False", "FALSE"), (_BOOL, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (_NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (_FLOAT, math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (_FLOAT, math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (_FLOAT, -math.inf)),
}
# strconv.ParseInt(s, 0, 64) once yaml.v2 has dropped every `_`: a sign, then a 0x, 0o or
# 0b prefix (either case), a leading 0 (octal) or decimal digits.
_GO_INT = re.compile(
    r"([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]+)|([1-9][0-9]*|0))"
)
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_GO_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?")
_SIGNED_BINARY = re.compile(r"0b([-+][01]+)")
_DECIMAL = re.compile(r"[-+]?[1-9][0-9]*")
_NUMBER_STARTS = frozenset("0123456789+-")
_INT64 = range(-(2**63), 2**63)
_UINT64 = range(2**64)


def _go_int(plain: str) -> int | None:
    """strconv.ParseInt(plain, 0, 64), else ParseUint(plain, 0, 64); None when both fail."""
    found = _GO_INT.fullmatch(plain)
    if found is None:
        return None
    sign, hexa, octo, bina, octal, decimal = found.groups()
    if decimal is not None:
        value = int(decimal)
    elif octal is not None:
        value = int(octal, 8)
    else:
        value = int(hexa or octo or bina, 16 if hexa else 8 if octo else 2)
    value = -value if sign == "-" else value
    return value if value in _INT64 or (not sign and value in _UINT64) else None


def _go_number(text: str) -> tuple[str, Any] | None:
    """A plain scalar starting with a digit or a sign, as yaml.v2 resolves it: an integer
    (`_` dropped), else a float in range, else `0b`, a sign and base-2 digits; None for a
    string (a timestamp too: yaml.v2 gives its text, as written, to an interface{})."""
    plain = text.replace("_", "")
    value = _go_int(plain)
    if value is not None:
        return _INT, value
    if _DECIMAL.fullmatch(plain):  # out of 64-bit range: a float to kubectl, kept as written
        return _INT, int(plain)
    if _GO_FLOAT.fullmatch(plain) and math.isfinite(number := float(plain)):
        return _FLOAT, number
    signed = _SIGNED_BINARY.fullmatch(plain)  # ParseInt(plain[2:], 2, 64): `0b-101` is -5
    if signed and (value := int(signed[1], 2)) in _INT64:
        return _INT, value
    return None


def _go_scalar(text: str) -> tuple[str, Any]:
    """The tag and value yaml.v2, so kubectl, gives a plain scalar (its resolve.go)."""
    found: tuple[str, Any] | None = _WORDS.get(text)
    if found is None and text[:1] == "." and _GO_DOT_FLOAT.fullmatch(text):
        number = float(text)  # strconv.ParseFloat: `_` between digits only, in range only
        found = (_FLOAT, number) if math.isfinite(number) else None
    elif found is None and text[:1] in _NUMBER_STARTS:
        found = _go_number(text)
    return found or (_STR, text)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading plain scalars as kubectl does (see `_go_scalar`)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _MERGE if value == "<<" else _go_scalar(value)[0]
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


def _typed(*tags: str) -> Callable[[_Loader, yaml.Node], Any]:
    """The constructor of a tag, plain or explicit (`!!int 0777` is 511 to yaml.v2 too)."""

    def construct(loader: _Loader, node: yaml.Node) -> Any:
        text = loader.construct_scalar(node)  # type: ignore[arg-type]
        tag, value = _go_scalar(text)
        if tag not in tags:
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r} is not a valid {node.tag}", node.start_mark
            )
        return float(value) if node.tag == _FLOAT else value

    return construct


for _tags in ((_INT,), (_FLOAT, _INT), (_BOOL,), (_NULL,)):
    _Loader.add_constructor(_tags[0], _typed(*_tags))


# An explicit !!timestamp is its text to yaml.v2; `<<` anywhere but as a key is a string.
def _text(loader: _Loader, node: yaml.Node) -> str:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor(_TAG + "timestamp", _text)
_Loader.add_constructor(_MERGE, _text)


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, also quoting the strings kubectl would read as something else
    (`y`, `0o17`, `08`, `1e3`, ...): PyYAML quotes only what YAML 1.1 would retype (`10:30`,
    `2026-12-03T10:00:00Z`, `yes`), which stays quoted."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if kind is yaml.ScalarNode and implicit[0] and tag == _STR:
            return _go_scalar(value)[0]
        return tag


def parse(text: str, *, source: str = "<kubeconfig>") -> Config:
    try:
        data = yaml.load(text, Loader=_Loader) if text.strip() else None
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"{source} is not valid YAML: {exc}") from None
    except RecursionError:  # PyYAML's composer recurses once per level of nesting
        raise KubeconfigError(f"{source} is nested too deeply to be a kubeconfig") from None
    if data is None:
        return empty()
    if not isinstance(data, dict):
        raise KubeconfigError(f"{source} is not a kubeconfig (expected a mapping at the top)")
    for section in SECTIONS:
        value = data.get(section)
        if value is None:
            data[section] = []
        elif not isinstance(value, list):
            raise KubeconfigError(f"{source}: {section} must be a list")
    return data


def dump(config: Mapping[str, Any]) -> str:
    try:
        return yaml.dump(dict(config), Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    except RecursionError:  # read, but nested too deeply for PyYAML to write back
        raise KubeconfigError("the kubeconfig is nested too deeply to be written") from None


def _named(entries: Iterable[Any]) -> list[dict[str, Any]]:
    return [e for e in entries if isinstance(e, dict)]


def _name(entry: Any) -> str | None:
    """The entry's name; None for what is not a named entry (kept as it is, never matched:
    a file other tools wrote may hold anything)."""
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) else None


def merge(
    base: Mapping[str, Any], incoming: Mapping[str, Any], *, current: str | None = None
) -> Config:
    """`base` with every cluster, user and context of `incoming` replaced by name or appended.

    Unknown keys of `base` (preferences, extensions, ...) are kept; `current`, when given,
    becomes the current context.
    """
    out: Config = copy.deepcopy(dict(base))
    for section in SECTIONS:
        entries = list(out.get(section) or [])
        index = {_name(e): i for i, e in enumerate(entries) if _name(e) is not None}
        for entry in _named(incoming.get(section) or []):
            name = entry.get("name")
            if name in index:
                entries[index[name]] = copy.deepcopy(entry)
            else:
                index[name] = len(entries)
                entries.append(copy.deepcopy(entry))
        out[section] = entries
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    if current is not None:
        out["current-context"] = current
    return out


def context_names(config: Mapping[str, Any]) -> list[str]:
    return [n for e in config.get("contexts") or [] if (n := _name(e)) is not None]


def _context(config: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for entry in _named(config.get("contexts") or []):
        if entry.get("name") == name:
            body = entry.get("context")
            return body if isinstance(body, dict) else {}
    return None


def has_context(config: Mapping[str, Any], name: str) -> bool:
    return _context(config, name) is not None


def server(config: Mapping[str, Any], context: str) -> str | None:
    """The API server URL the context points at, if the file says."""
    body = _context(config, context)
    if body is None:
        return None
    for entry in _named(config.get("clusters") or []):
        if entry.get("name") == body.get("cluster"):
            cluster = entry.get("cluster") or {}
            value = cluster.get("server") if isinstance(cluster, dict) else None
            return str(value) if value else None
    return None


def _written_by_kind(entry: Any, name: str) -> bool:
    """A context entry `name` as kind (and kindfleet, renaming all three) writes it: its
    cluster and its user are the entries of the same name."""
    body = entry.get("context") if isinstance(entry, dict) else None
    return (
        _name(entry) == name
        and isinstance(body, dict)
        and body.get("cluster") == name
        and body.get("user") == name
    )


def is_kind_context(config: Mapping[str, Any], name: str) -> bool:
    """Whether the file holds context `name` as kind writes it, so `remove_context` takes
    it; a context of that name pointing at other entries is the user's and stays."""
    return any(_written_by_kind(e, name) for e in config.get("contexts") or [])


def remove_context(config: Mapping[str, Any], name: str) -> Config:
    """Without the context as kind writes it (see `is_kind_context`), and without its
    cluster and user, both also called `name`, unless another context still uses them.

    The current context is cleared when it was this one (what `kind delete cluster` does).
    A context of that name pointing at other entries is the user's: nothing is changed.
    """
    out: Config = copy.deepcopy(dict(config))
    if not is_kind_context(out, name):
        return out
    out["contexts"] = [e for e in out.get("contexts") or [] if not _written_by_kind(e, name)]
    still = [c["context"] for c in _named(out["contexts"]) if isinstance(c.get("context"), dict)]
    for section, key in (("clusters", "cluster"), ("users", "user")):
        if not any(body.get(key) == name for body in still):
            out[section] = [e for e in out.get(section) or [] if _name(e) != name]
    if out.get("current-context") == name and not has_context(out, name):
        out["current-context"] = ""
    return out


def rename_context(config: Mapping[str, Any], old: str, new: str) -> Config:
    """Context `old` (and the cluster and user entries of the same name) renamed to `new`.

    KIND names all three `kind-<cluster>`; a fleet file may ask for another context name.
    """
    if old == new:
        return copy.deepcopy(dict(config))
    out: Config = copy.deepcopy(dict(config))
    for section, key in SECTIONS.items():
        for entry in _named(out.get(section) or []):
            if entry.get("name") == old:
                entry["name"] = new
            body = entry.get(key)
            if section == "contexts" and isinstance(body, dict):
                for ref in ("cluster", "user"):
                    if body.get(ref) == old:
                        body[ref] = new
    if out.get("current-context") == old:
        out["current-context"] = new
    return out


def use_context(config: Mapping[str, Any], name: str, *, source: str = "kubeconfig") -> Config:
    if not has_context(config, name):
        known = ", ".join(context_names(config)) or "none"
        raise KubeconfigError(f"{source} has no context {name!r} (contexts: {known})")
    out: Config = copy.deepcopy(dict(config))
    out["current-context"] = name
    return out


def target_path(
    explicit: str | os.PathLike[str] | None, env: Mapping[str, str], home: Path
) -> Path:
    """Where kubectl writes a new context (client-go's `GetDefaultFilename`): the explicit
    file, else $KUBECONFIG's first file that exists (its first when none does), else
    ~/.kube/config. Writing the first listed when it was missing made a file kubectl
    would not have written, beside the one it reads."""
    if explicit:
        return Path(explicit).expanduser()
    paths = [Path(p).expanduser() for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if paths:
        return next((p for p in paths if p.exists()), paths[0])
    return home / ".kube" / "config"


class KubeconfigFile:
    """One kubeconfig file on disk, read and updated under the kubectl/kind lock protocol."""

    _thread_lock = threading.Lock()  # one writer at a time inside this process

    def __init__(
        self, path: str | os.PathLike[str], *, lock_timeout: float = LOCK_TIMEOUT_SECONDS
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    def read(self) -> Config:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return empty()
        except OSError as exc:
            raise KubeconfigError(f"cannot read {self.path}: {exc.strerror}") from None
        return parse(text, source=str(self.path))

    def update(self, change: Callable[[Config], Config]) -> Config:
        """Read, apply `change`, write back atomically with mode 0600; returns what was written."""
        with self._thread_lock, self._file_lock():
            updated = change(self.read())
            self._write(updated)
            return updated

    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _file_lock(self) -> _LockFile:
        return _LockFile(self._lock_path(), self.lock_timeout)

    def check_writable(self) -> Config:
        """Before work whose end is written here (`up`'s clusters): refuse a read-only file
        and a lock nobody lets go of (a crashed kubectl's `<file>.lock`), waiting for it as
        a write would, and a file that is no kubeconfig (not YAML, not a map): found at the
        end, every cluster was built and then removed. What the file holds now."""
        self.refuse_read_only()
        _refuse_foreign(Path(os.path.realpath(self.path)))
        if self._lock_path().exists():
            with self._thread_lock, self._file_lock():
                pass
        return self.read()  # raises, naming the file and what is wrong with it

    def refuse_read_only(self) -> None:
        """A file its owner made read-only is not replaced: it was, with a 0600 file (as
        root, for whom no mode stops a write), undoing what the owner meant."""
        target = Path(os.path.realpath(self.path))
        try:
            mode = target.stat().st_mode
        except OSError:
            return  # not there yet (made 0600), or unreadable (said when it is read)
        if not mode & stat.S_IWUSR:
            raise KubeconfigError(
                f"{target} is read-only (mode {stat.S_IMODE(mode):04o}): kindfleet does not "
                "replace it",
                hint=f"make it writable (chmod u+w {target}) or give --kubeconfig another file",
            )

    def _write(self, config: Mapping[str, Any]) -> None:
        # Through a symlink (a kubeconfig kept in a dotfiles repository), as kubectl and
        # kind write: replacing the link by a file cut the user's file off from then on.
        self.refuse_read_only()
        target = Path(os.path.realpath(self.path))
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        except OSError as exc:
            raise KubeconfigError(
                f"cannot write {target}: {exc.strerror}",
                hint="give --kubeconfig (or $KUBECONFIG) a file in a directory you can write",
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:  # closes fd whatever happens
                os.fchmod(fd, 0o600)
                _keep_owner(fd, target)
                handle.write(dump(config))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _keep_owner(fd: int, target: Path) -> None:
    """The new file is the old one's owner's, as kubectl's and kind's writes (in place) keep
    it: written by root (`sudo -E`, `--kubeconfig ~user/.kube/config`), it became root's
    0600, and its owner could no longer read their own kubeconfig."""
    try:
        old = target.stat()
    except OSError:
        return  # a new file: the writer's
    if (old.st_uid, old.st_gid) == (os.geteuid(), os.getegid()):
        return
    if old.st_uid == os.geteuid():
        with contextlib.suppress(OSError):  # its group, where the user may give it
            os.fchown(fd, -1, old.st_gid)
        return
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except OSError as exc:
        _refuse_foreign(target)
        raise KubeconfigError(
            f"cannot write {target} and leave it its owner's (uid {old.st_uid}): {exc.strerror}",
            hint="give --kubeconfig a file of your own",
        ) from None


def _refuse_foreign(target: Path) -> None:
    """A kubeconfig another user owns is not taken from them (only root can write it and
    give it back): said before any work whose end would be written there."""
    try:
        owner = target.stat().st_uid
    except OSError:
        return
    if owner != os.geteuid() and os.geteuid() != 0:
        raise KubeconfigError(
            f"{target} belongs to uid {owner}: writing it as uid {os.geteuid()} would take it "
            "from its owner",
            hint="run as its owner, or give --kubeconfig a file of your own",
        )


class _LockFile:
    """`<kubeconfig>.lock` created exclusively, as client-go and kind do; removed on exit."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout

    def __enter__(self) -> _LockFile:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.close(fd)
                return self
            except FileExistsError:
                if time.monotonic() >= deadline:
                    raise KubeconfigError(
                        f"{self.path} is held by another writer",
                        hint=f"if no kubectl or kind is running, remove {self.path}",
                    ) from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)
