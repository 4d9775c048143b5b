"""What `up` quotes of a local process that died starting: its log's last lines, or why it
has none. A process that died on a full disk wrote nothing, and the message used to end
with an empty line after "exited while starting:"."""

from __future__ import annotations

from pathlib import Path

from kindfleet.providers.local.processes import log_tail
from tests.smalldisk import fill, small_disk


def test_the_last_lines_indented(tmp_path: Path):
    log = tmp_path / "log"
    log.write_text("".join(f"line {n}\n" for n in range(40)))
    assert log_tail(log, 3) == "    line 37\n    line 38\n    line 39"


def test_an_empty_or_missing_log_says_so(tmp_path: Path):
    (tmp_path / "log").write_text("")
    assert log_tail(tmp_path / "log") == "    (its log is empty)"
    assert log_tail(tmp_path / "missing") == "    (its log is empty)"
    assert log_tail(tmp_path / "no" / "dir" / "log") == "    (no log)"


def test_an_empty_log_on_a_full_disk_names_the_disk(tmp_path: Path):
    with small_disk(tmp_path / "disk", size="64k") as disk:
        (disk / "log").write_text("")
        fill(disk)
        said = log_tail(disk / "log")
    assert said == f"    (its log is empty, and the disk of {disk} has 0 KiB free)"
