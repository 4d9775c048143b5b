"""The machine's refusals (a full disk, a read-only or forbidden path, too many open files)
said as such, with the path and what to do, and not as a bug of kindfleet."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from kindfleet.errors import EXIT_PREREQUISITE, machine_error, unexpected, writing
from tests.smalldisk import fill, small_disk


def test_a_full_disk_names_the_file_and_what_to_do():
    known = machine_error(OSError(errno.ENOSPC, "No space left on device", "/data/fleet.yaml"))
    assert known is not None
    assert known.message == "no space left on the disk of /data/fleet.yaml"
    assert known.hint is not None and "free space" in known.hint
    assert known.exit_code == EXIT_PREREQUISITE


def test_without_a_path_it_names_the_state_disk_only_when_that_one_is_full(
    monkeypatch, tmp_path: Path
):
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    known = machine_error(OSError(errno.ENOSPC, "No space left on device"))
    assert known is not None
    assert known.message == "no space left on a disk kindfleet was writing to"  # tmp has room
    with small_disk(tmp_path / "disk", size="64k") as disk:
        fill(disk)
        monkeypatch.setenv("KINDFLEET_STATE_DIR", str(disk / "state"))
        known = machine_error(OSError(errno.ENOSPC, "No space left on device"))
        assert known is not None
        assert known.message.startswith(f"no space left on the disk of {disk / 'state'}")
        assert "KiB free" in known.message


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (OSError(errno.EROFS, "Read-only file system", "/ro/x"), "/ro/x is on a read-only"),
        (OSError(errno.EACCES, "Permission denied", "/etc/x"), "permission denied: /etc/x"),
        (OSError(errno.EMFILE, "Too many open files"), "too many open files"),
        (OSError(errno.EDQUOT, "Disk quota exceeded", "/home/u/x"), "disk quota exceeded"),
        (FileExistsError(errno.EEXIST, "File exists", "/s/c/x"), "a file is in the way of /s/c/x"),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/s/c/x/pid"), "a file is in the"),
    ],
)
def test_other_refusals_of_the_machine(error: OSError, message: str):
    known = machine_error(error)
    assert known is not None and known.message.startswith(message)
    assert known.hint
    assert unexpected(error) == str(known)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EPERM, "Operation not permitted"),  # no path: may be a bug of ours
        OSError(errno.ECONNREFUSED, "Connection refused"),
        ValueError("bad"),
    ],
)
def test_anything_else_stays_unexpected(error: Exception):
    assert machine_error(error) is None
    assert unexpected(error) == f"unexpected {type(error).__name__}: {error}"


def test_writing_gives_a_write_error_its_path(tmp_path: Path):
    with pytest.raises(OSError, match="No space") as raised, writing(tmp_path / "out.yaml"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert raised.value.filename == str(tmp_path / "out.yaml")
    with pytest.raises(OSError, match="denied") as raised, writing(tmp_path / "out.yaml"):
        raise OSError(errno.EACCES, "Permission denied", "/elsewhere")
    assert raised.value.filename == "/elsewhere"  # a path it had is kept


def test_init_on_a_full_disk_says_so_with_exit_3(cli, tmp_path: Path):
    with small_disk(tmp_path / "disk", size="8k") as disk:
        fill(disk)
        result = cli("init", str(disk / "fleet.yaml"))
    assert result.code == EXIT_PREREQUISITE
    assert f"no space left on the disk of {disk / 'fleet.yaml'}" in result.err
    assert "bug" not in result.err and "Traceback" not in result.err


def test_a_name_too_long_is_the_machines_refusal_not_a_bug():
    """Found from outside: a KINDFLEET_STATE_DIR with a 300-character name was "unexpected
    OSError ... this is a bug"."""
    long = "/tmp/" + "x" * 300
    known = machine_error(OSError(errno.ENAMETOOLONG, "File name too long", long))
    assert known is not None and known.exit_code == EXIT_PREREQUISITE
    assert known.message == f"a name is too long for the file system: {long}"
    assert "KINDFLEET_STATE_DIR" in (known.hint or "")
