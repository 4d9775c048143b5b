"""Where kindfleet keeps what it must remember about a fleet between commands: tokens,
the hub's address after a deploy, the local runtime's processes.

One directory per fleet under `$KINDFLEET_STATE_DIR`, else `$XDG_STATE_HOME/kindfleet`,
else `~/.local/state/kindfleet`. Secrets in it are written 0600.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


def state_root() -> Path:
    env = os.environ.get("KINDFLEET_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kindfleet"


def fleet_dir(fleet: str, root: Path | None = None) -> Path:
    return (root or state_root()) / fleet


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically (no window with wider modes)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


def replace_text(path: Path, text: str) -> None:
    """`path` made anew with `text` (mode as the umask gives), whole or not at all, never
    written through: a link there is replaced, not the file it named (a shared directory,
    /tmp/configs, had that overwritten), and a write cut short (a full disk, `ulimit -f`)
    leaves the file before it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_token(path: Path) -> str:
    """The token stored at `path`, created (random, 0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        token = secrets.token_urlsafe(32)
        write_private(path, token)
        return token


def copy_private(source: Path, target: Path) -> None:
    """`source` copied to `target`, which only its owner can read from the start (a
    platform log may name what strangers should not read; copyfile made it 0644)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
