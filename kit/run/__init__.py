"""Run a strategy forward: ``kit run`` and the notebook handle (see :mod:`kit.run.runner`).

>>> from kit.run import Runner, start, heartbeats     # doctest: +SKIP
"""

from __future__ import annotations

from kit.run.runner import STATES, Runner, heartbeats, start

__all__ = ["STATES", "Runner", "heartbeats", "start"]
