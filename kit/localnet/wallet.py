"""Wallet side of localnet (``/sapi/v1/capital/...``): networks, fees, addresses, wallet times.

Made-up but stable values in Binance's shapes: every coin has one or more networks (the first is
the default) with a withdrawal fee and minimum; deposit addresses and transaction ids are hashes,
so the same account, coin and network always get the same address.

Examples
--------
>>> [n.name for n in networks("USDT")]
['ETH', 'TRX', 'BSC']
>>> wallet_time(1_700_000_000_000)
'2023-11-14 22:13:20'
>>> fake_address("main", "BTC", "BTC") == fake_address("main", "BTC", "BTC")
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

#: Simulated time a withdrawal stays "processing" (status 4) before it is "completed" (6).
WITHDRAW_SETTLE_MS = 60_000


@dataclass(frozen=True)
class Network:
    """One withdrawal network of a coin: name, fee (part of the withdrawn amount), minimum."""

    name: str
    fee: Decimal
    withdraw_min: Decimal


_NETWORKS: dict[str, tuple[Network, ...]] = {
    "BTC": (Network("BTC", Decimal("0.00002"), Decimal("0.0001")),),
    "ETH": (Network("ETH", Decimal("0.0004"), Decimal("0.001")),),
    "USDT": (
        Network("ETH", Decimal("1.5"), Decimal("3")),
        Network("TRX", Decimal("1"), Decimal("2")),
        Network("BSC", Decimal("0.01"), Decimal("0.02")),
    ),
}


def networks(coin: str) -> tuple[Network, ...]:
    """The networks of ``coin`` (default first); an unlisted coin has one of its own name, fee 0."""
    return _NETWORKS.get(coin, (Network(coin, Decimal(0), Decimal("0.00000001")),))


def wallet_time(ts_ms: int) -> str:
    """Binance's wallet time text (``applyTime``, ``completeTime``): ``YYYY-MM-DD HH:MM:SS`` UTC."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def fake_address(account: str, coin: str, network: str) -> str:
    """A stable made-up deposit address (hex; never a real chain address)."""
    return "0x" + hashlib.sha256(f"localnet:{account}:{coin}:{network}".encode()).hexdigest()[:40]


def fake_tx_id(ref: str) -> str:
    """A stable made-up transaction id for ``ref``."""
    return "0x" + hashlib.sha256(f"localnet-tx:{ref}".encode()).hexdigest()
