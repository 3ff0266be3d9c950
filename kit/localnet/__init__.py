"""localnet: an offline exchange on 127.0.0.1 that speaks the Binance Spot REST and WebSocket API.

The real, unmodified ccxt client works against it after a URL override
(:func:`kit.localnet.ccxt_client.connect`). Orders go through the pure fill engine
(:mod:`kit.engine`); the server enforces signatures, timestamps, key permissions, IP allowlists,
request weights and bans, symbol filters and balances, and can inject faults on purpose.

>>> import kit.localnet as ln
>>> callable(ln.start)
True

Usage::

    from kit.localnet import start, LocalnetConfig
    with start(config=LocalnetConfig(stepped=True)) as net:
        ex = net.client("trader")          # a ccxt.binance pointed at it
        ex.fetch_balance()
        net.step(60_000)                   # one simulated minute
"""

from typing import Any

from kit.localnet.config import (
    AccountSpec,
    FaultConfig,
    KeySpec,
    LimitsConfig,
    LocalnetConfig,
    SymbolSpec,
)


def start(**kwargs: Any) -> Any:
    """Start a localnet server in a background thread (see :func:`kit.localnet.server.start`)."""
    from kit.localnet.server import start as _start

    return _start(**kwargs)


__all__ = [
    "AccountSpec",
    "FaultConfig",
    "KeySpec",
    "LimitsConfig",
    "LocalnetConfig",
    "SymbolSpec",
    "start",
]
