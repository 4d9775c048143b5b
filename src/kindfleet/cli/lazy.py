"""Commands imported only when they run: `kindfleet version` must not pay for the fleet
model, the platform client and the deploy machinery that other commands need.

Each command is named here with the module that holds it, its one-line help and the
section it is listed under, so that `kindfleet --help` lists every command without
importing any of them; running one imports its module and turns its function (or sub-app)
into a command the usual way. The group's own help is click's plain text (as kind's and
kubectl's are): typer's rich help imports rich's markdown and traceback machinery, which
cost the first screen a new user sees more than everything else it needs. A command's own
`--help` stays typer's.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    target: str  # "module:attribute": a command function, or a typer.Typer of subcommands
    help: str  # what `kindfleet --help` shows for it, without importing it
    section: str = "Commands"  # the heading it is listed under


class LazyGroup(TyperGroup):
    """A group whose commands are `LazyCommand`s, built on first use."""

    lazy: ClassVar[dict[str, LazyCommand]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        known = super().get_command(ctx, cmd_name)
        if known is not None or cmd_name not in self.lazy:
            return known
        entry = self.lazy[cmd_name]
        if self._listing:  # help for the group: the name and its line are enough
            return TyperCommand(cmd_name, help=entry.help, short_help=entry.help)
        command = build(cmd_name, entry)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing = True
        try:
            _click.Command.format_help(self, ctx, formatter)  # plain, not typer's rich
        finally:
            self._listing = False

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        names = self.list_commands(ctx)
        width = formatter.width - 6 - max(map(len, names), default=0)
        for name in names:
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            section = self.lazy[name].section if name in self.lazy else "Commands"
            sections.setdefault(section, []).append((name, command.get_short_help_str(width)))
        for section, rows in sections.items():
            with formatter.section(section):
                formatter.write_dl(rows)


def build(name: str, entry: LazyCommand) -> _click.Command:
    """The click command of a lazy entry, made exactly as `app.command()` would make it."""
    module_name, _, attribute = entry.target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_command(target)
        group.name = name
        return group
    holder = typer.Typer(rich_markup_mode="markdown")
    holder.command(name)(target)
    holder.callback()(lambda: None)  # a group of one, so the command keeps its own name
    return typer.main.get_group(holder).commands[name]
