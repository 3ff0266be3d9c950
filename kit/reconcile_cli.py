"""Where :mod:`kit.cli` imports ``kit reconcile`` from; the command lives in :mod:`kit.reconcile.cli`.

Kept so that ``from kit.reconcile_cli import reconcile_command`` goes on working. Importing it stays
cheap (no ccxt, no Session): ``kit --help`` attaches every command.
"""

from kit.reconcile.cli import reconcile_command

__all__ = ["reconcile_command"]
