"""The click group every ``kit`` command group derives from: a ``KitError`` is one line and exit 2."""

from __future__ import annotations

from typing import Any

import click

from kit.errors import KitError

__all__ = ["KitGroup"]


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
