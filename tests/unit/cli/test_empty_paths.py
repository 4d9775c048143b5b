"""An empty path given to any path option is refused with the option's name: `--out "$DIR"`
with DIR unset wrote into the working directory, and `-f ''` was reported as ".". Every
command is looked at, so that a path option added later is held to it too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.main import TyperPath

from kindfleet.cli import app


def _path_options() -> list[tuple[list[str], str]]:
    """(command words, option) for every option that takes a path, in every command."""
    root = typer.main.get_command(app)
    found: list[tuple[list[str], str]] = []

    def walk(command: _click.Command, words: list[str]) -> None:
        if isinstance(command, TyperGroup):
            ctx = _click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, [*words, name])
            return
        for param in command.params:
            kind = param.type
            parser = getattr(getattr(kind, "func", None), "__qualname__", "")
            if not (isinstance(kind, TyperPath) or parser.startswith("path_of")):
                continue
            if isinstance(param, TyperOption):
                found.append((words, max(param.opts, key=len)))
            elif isinstance(param, TyperArgument):  # given alone: its name is its metavar
                found.append((words, str(param.name).upper()))

    walk(root, [])
    return found


OPTIONS = _path_options()


def test_the_commands_with_path_options_are_all_found():
    named = {f"{' '.join(words)} {option}" for words, option in OPTIONS}
    for known in ("validate --file", "render --out", "check --junit", "load --report",
                  "logs export --out", "up --kubeconfig", "submit --spec", "init PATH"):  # fmt: skip
        assert known in named, sorted(named)


@pytest.mark.parametrize(
    ("words", "option"), OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_an_empty_path_is_refused_by_name(cli, tmp_path: Path, monkeypatch, words, option):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "state"))
    given = [option, ""] if option.startswith("-") else [""]  # an option, or an argument
    result = cli(*words, *given)
    assert result.code == 2, (result.code, result.err)
    assert f"{option} '' is not a path" in result.err, result.err
    assert "Traceback" not in result.err
    assert os.listdir(tmp_path) == [], os.listdir(tmp_path)  # nothing written here
