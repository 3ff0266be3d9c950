"""The click groups of the ``kit`` command line.

:class:`KitGroup` turns a :class:`~kit.errors.KitError` into one line and exit code 2; every
``kit`` command group derives from it. :class:`LazyGroup` adds subcommands that are imported only
when they run (or when their own help is asked for), so ``kit --help`` imports none of pandas,
pyarrow, numpy or ccxt: it lists the lazy commands from their table, whose short help strings
``tests/test_cli.py`` checks against the commands' own.

>>> group = LazyGroup("kit", lazy={"candles": ("kit.cli.candles:candles", "Candle store.")})
>>> group.list_commands(click.Context(group))
['candles']
>>> group.get_command(click.Context(group), "candles").name
'candles'
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

from kit.errors import KitError

__all__ = ["KitGroup", "LazyGroup"]


class KitGroup(click.Group):
    """A click group that turns a :class:`~kit.errors.KitError` into one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        """Invoke the chosen command, mapping a ``KitError`` to a one-line message."""
        try:
            return super().invoke(ctx)
        except KitError as exc:
            one_line = " ".join(str(exc).split())
            click.echo(f"Error: {type(exc).__name__}: {one_line}", err=True)
            ctx.exit(2)


class LazyGroup(KitGroup):
    """A :class:`KitGroup` whose subcommands are imported on first use.

    Parameters
    ----------
    name
        Name of the group.
    lazy
        Command name -> (``"package.module:attribute"``, short help). The short help is what
        ``--help`` lists without importing the module.
    **attrs
        Passed to :class:`click.Group`.
    """

    def __init__(self, name: str | None = None, lazy: Mapping[str, tuple[str, str]] | None = None, **attrs: Any):
        super().__init__(name, **attrs)
        self.lazy: dict[str, tuple[str, str]] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Eager and lazy command names, sorted."""
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command called ``cmd_name``, importing its module if it is a lazy one."""
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in self.lazy:
            return command
        target = self.lazy[cmd_name][0]
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is a {type(command).__name__}, not a click command")
        self.add_command(command, cmd_name)  # imported once; later lookups find it in self.commands
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``: lazy commands not imported yet show their table entry."""
        limit = formatter.width - 6 - max((len(name) for name in self.list_commands(ctx)), default=0)
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None:
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                placeholder = click.Command(name, help=self.lazy[name][1])  # shortened as click shortens help
                rows.append((name, placeholder.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
