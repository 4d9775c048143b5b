"""`kindfleet logs export --out DIR` writes into a folder of its own: a folder with files
in it had them replaced without a word, `--out ""` meant the current directory, and one
that cannot be made was "a bug". Each is refused before any log is read."""

from __future__ import annotations


def test_a_folder_with_files_in_it_is_refused(cli, tmp_path, monkeypatch):
    (tmp_path / "summary.txt").write_text("mine")
    result = cli("logs", "export", "--out", str(tmp_path), "-f", "no-such-fleet.yaml")
    assert result.code == 2 and "is not empty" in result.err, result.err
    assert (tmp_path / "summary.txt").read_text() == "mine"
    monkeypatch.chdir(tmp_path)
    result = cli("logs", "export", "--out", "", "-f", "no-such-fleet.yaml")  # not the cwd
    assert result.code == 2 and "--out '' is not a path" in result.err, result.err


def test_a_folder_that_cannot_be_made_or_is_a_file_is_refused(cli, tmp_path):
    (tmp_path / "f").write_text("")
    for out, says in ((tmp_path / "f", "is a file"), ("/proc/nope", "--out '/proc/nope':")):
        result = cli("logs", "export", "--out", str(out), "-f", "no-such-fleet.yaml")
        assert result.code == 2 and says in result.err, result.err
        assert "bug" not in result.err


def test_a_new_or_empty_folder_is_taken(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "new" / "logs", tmp_path / "empty"):
        result = cli("logs", "export", "--out", str(out), "-f", str(tmp_path / "none.yaml"))
        assert "--out" not in result.err and "none.yaml" in result.err, result.err  # next: the file
