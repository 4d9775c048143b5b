"""The CLI starts at once: importing it loads no command's machinery, and every command it
lists lazily is there when it runs."""

import importlib
import subprocess
import sys

import pytest
import typer

from kindfleet.cli import Commands

HEAVY = (
    "kindfleet.fleet",
    "kindfleet.fleetspec",
    "kindfleet.platform",
    "kindfleet.deploy",
    "kindfleet.providers",
    "pydantic",
    "yaml",
    "rich.console",
    "psutil",
    "httpx2",
)


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_importing_the_cli_loads_no_command_machinery():
    loaded = _loaded_after("import kindfleet.cli")
    assert not [m for m in HEAVY if m in loaded]


def _loaded_by(*argv: str) -> set[str]:
    return _loaded_after(
        f"from kindfleet.cli import main\nsys.argv = ['kindfleet', *{list(argv)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )


@pytest.mark.parametrize("argv", [["version"], ["version", "-o", "json"], ["--help"]])
def test_version_and_the_help_load_only_what_they_print(argv):
    loaded = _loaded_by(*argv)
    assert not [m for m in HEAVY if m in loaded]  # typer < 0.29: no pydantic for options
    assert "rich" not in loaded  # tables are plain and the group's help is click's


def test_the_help_lists_every_command_under_its_section(cli):
    result = cli("--help")
    assert result.code == 0
    for name, entry in Commands.lazy.items():
        heading = result.out.index(f"\n{entry.section}:\n")
        line = next(ln for ln in result.out.splitlines() if ln.split()[:1] == [name])
        assert result.out.index(line) > heading, f"{name} is not under {entry.section}"


@pytest.mark.parametrize("fmt", [[], ["-o", "json"]])
def test_validate_loads_the_fleet_file_machinery_only(tmp_path, fmt):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("name: lazy\nspokes: 2\nregistry: {}\n")  # a table, a note, a tick
    loaded = _loaded_by("validate", "-f", str(fleet), *fmt)
    assert "kindfleet.fleetspec" in loaded
    unneeded = ["kindfleet.fleet", "kindfleet.platform", "kindfleet.deploy"]
    unneeded += ["kindfleet.providers", "psutil", "httpx2", "rich"]
    assert not [m for m in unneeded if m in loaded]


@pytest.mark.parametrize("name", sorted(Commands.lazy))
def test_every_listed_command_exists_and_its_line_opens_its_docstring(name):
    entry = Commands.lazy[name]
    module, _, attribute = entry.target.partition(":")
    target = getattr(importlib.import_module(module), attribute)
    doc = target.info.help if isinstance(target, typer.Typer) else target.__doc__
    first = " ".join((doc or "").strip().split("\n\n")[0].split())
    assert first.startswith(entry.help), f"{name}: the docstring says {first!r}"
