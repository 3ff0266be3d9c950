"""The ``kit`` command line (:mod:`kit.cli.main`), one module per command group.

Subcommands are imported only when they run, so ``kit --help`` imports neither pandas, pyarrow,
numpy nor ccxt. This package's ``__init__`` imports nothing.
"""
