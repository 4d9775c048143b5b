"""Kubeconfig files: pure functions over their content, and one careful writer.

A kubeconfig is usually the user's own (`~/.kube/config`), shared with kubectl, kind and
every other tool, so changes are surgical: entries are merged by name (replaced in place
or appended), keys kindfleet does not know are kept, and removal takes only what names
the cluster. The writer takes the same `<file>.lock` that kubectl and kind take, writes a
temporary file with mode 0600 and renames it over the original, so a reader never sees a
half-written file and a parallel writer never loses an update.

Which file to touch is the caller's decision (`target_path` gives the usual rule); nothing
here reaches for `~/.kube/config` on its own.
"""

from __future__ import annotations

import copy
import os
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


def parse(text: str, *, source: str = "<kubeconfig>") -> Config:
    try:
        data = yaml.safe_load(text) if text.strip() else None
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
        return yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False)
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


def remove_context(config: Mapping[str, Any], name: str) -> Config:
    """Without the context, and without its cluster and user unless another context uses them.

    The current context is cleared when it was this one (what `kind delete cluster` does).
    """
    out: Config = copy.deepcopy(dict(config))
    body = _context(out, name)
    if body is None:
        return out
    out["contexts"] = [e for e in out.get("contexts") or [] if _name(e) != name]
    still = [c for c in _named(out["contexts"]) if isinstance(c.get("context"), dict)]
    for section, key in (("clusters", "cluster"), ("users", "user")):
        target = body.get(key)
        if target and not any(c["context"].get(key) == target for c in still):
            out[section] = [e for e in out.get(section) or [] if _name(e) != target]
    if out.get("current-context") == name:
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
    """Where kubectl writes: the explicit file, else $KUBECONFIG's first, else ~/.kube/config."""
    if explicit:
        return Path(explicit).expanduser()
    paths = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if paths:
        return Path(paths[0]).expanduser()
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

    def _write(self, config: Mapping[str, Any]) -> None:
        # Through a symlink (a kubeconfig kept in a dotfiles repository), as kubectl and
        # kind write: replacing the link by a file cut the user's file off from then on.
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
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(dump(config))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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
