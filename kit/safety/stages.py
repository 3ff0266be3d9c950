"""The stage ladder: ``read_only`` -> ``paper`` -> ``testnet`` -> ``live_small`` -> ``live``.

A stage says what a :class:`kit.session.Session` may do; :mod:`kit.safety.guard` enforces it before any
request is sent, and asks for journaled evidence before a higher stage is entered (docs/design.md, Stages).

``paper`` trades with simulated fills on a real venue's public market data: its orders go to a
private paper venue (:mod:`kit.paper`), never to the exchange, and it needs no API key.

>>> Stage("live_small") is Stage.LIVE_SMALL
True
>>> Stage.parse("Live-Small").value
'live_small'
>>> Stage.TESTNET.rank < Stage.LIVE.rank, Stage.READ_ONLY.allows_orders
(True, False)
>>> Stage.READ_ONLY.rank < Stage.PAPER.rank < Stage.TESTNET.rank, Stage.PAPER.is_simulated
(True, True)
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Stage"]


class Stage(str, Enum):
    """One rung of the stage ladder; the value is the wire/config/journal spelling."""

    READ_ONLY = "read_only"
    PAPER = "paper"
    TESTNET = "testnet"
    LIVE_SMALL = "live_small"
    LIVE = "live"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """Position on the ladder: 0 for ``read_only``, 1 for ``paper``, up to 4 for ``live``."""
        return _ORDER.index(self)

    @property
    def allows_orders(self) -> bool:
        """False only for ``read_only``, where every order method raises before any request."""
        return self is not Stage.READ_ONLY

    @property
    def is_simulated(self) -> bool:
        """True for ``paper``: orders are filled by the kit's fill model, nothing reaches the exchange."""
        return self is Stage.PAPER

    @property
    def is_live(self) -> bool:
        """True for the stages that trade real money (``live_small``, ``live``)."""
        return self in (Stage.LIVE_SMALL, Stage.LIVE)

    @classmethod
    def parse(cls, value: Stage | str) -> Stage:
        """Read a stage from config or a notebook parameter, forgiving case and ``-``/space separators.

        Parameters
        ----------
        value
            A :class:`Stage` or its name, e.g. ``"testnet"``, ``"LIVE_SMALL"``, ``"live-small"``.

        Returns
        -------
        Stage

        Raises
        ------
        kit.errors.ConfigError
            For anything that is not one of the five stages.

        Examples
        --------
        >>> Stage.parse("READ-ONLY")
        <Stage.READ_ONLY: 'read_only'>
        """
        if isinstance(value, Stage):
            return value
        key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(key)
        except ValueError:
            from kit.errors import ConfigError

            names = ", ".join(s.value for s in _ORDER)
            raise ConfigError(f"unknown stage {value!r}", hint=f"Use one of: {names}.") from None


_ORDER: tuple[Stage, ...] = (Stage.READ_ONLY, Stage.PAPER, Stage.TESTNET, Stage.LIVE_SMALL, Stage.LIVE)
