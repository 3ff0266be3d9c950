"""Order-book level arithmetic shared by localnet's synthetic book and the paper venue's mirrored book.

Both books hold one side as ``{key: quantity}`` (localnet keys levels by integer ticks, the paper
book by the upstream's Decimal price) and both keep a ledger of liquidity taken by taker fills
that stays gone until it is due back (:class:`Taken`). The arithmetic they share lives here, pure:
subtracting what was taken from fresh levels, the ``depthUpdate`` rows between two states of a side,
the best levels and the sorted levels.

Examples
--------
>>> from decimal import Decimal as D
>>> taken = Taken()
>>> taken.add("ask", 101, D("1"), until_ms=3_000)
>>> bids, asks = taken.apply({100: D("2")}, {101: D("1.5"), 102: D("3")})
>>> asks
{101: Decimal('0.5'), 102: Decimal('3')}
>>> diff({101: D("1.5"), 102: D("3")}, asks, lambda t: D(t) / 100)
[['1.01000000', '0.50000000']]
>>> taken.expire(3_000)                 # due back: the next apply shows the level whole again
>>> taken.apply({}, {101: D("1.5")})[1]
{101: Decimal('1.5')}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

__all__ = ["REMOVED", "Taken", "best", "deduct", "diff", "fmt", "sorted_levels"]

K = TypeVar("K", bound=Hashable)
Level = tuple[Decimal, Decimal]
ZERO = Decimal(0)
_EIGHT = Decimal("0.00000001")
#: The quantity of a removed level on Binance's wire (``depthUpdate`` and REST use 8 decimals).
REMOVED = "0.00000000"


def fmt(x: Decimal) -> str:
    """Binance's wire form of a price or quantity: at least 8 decimals (``"60009.40000000"``).

    >>> fmt(Decimal("60009.4")), fmt(Decimal(0)), fmt(Decimal("0.000000001"))
    ('60009.40000000', '0.00000000', '0.000000001')
    """
    exponent = x.as_tuple().exponent
    return format(x.quantize(_EIGHT) if isinstance(exponent, int) and exponent > -8 else x, "f")


def deduct(book: dict[Any, Decimal], key: Any, qty: Decimal) -> None:
    """Take ``qty`` off the level ``key`` of ``book`` in place; a level taken whole is gone, a missing one stays so.

    >>> book = {Decimal("100"): Decimal("2")}
    >>> deduct(book, Decimal("100"), Decimal("0.5")); book
    {Decimal('100'): Decimal('1.5')}
    >>> deduct(book, Decimal("100"), Decimal("3")); book
    {}
    """
    if key in book:
        left = book[key] - qty
        if left > 0:
            book[key] = left
        else:
            del book[key]


class Taken(Generic[K]):
    """Liquidity taken from levels: ``(side, key) -> (quantity, due back at ms)``.

    ``side`` is ``"bid"`` or ``"ask"``. What was taken at one level adds up, and the whole of it is
    due back ``replenish`` after the last take.
    """

    def __init__(self) -> None:
        self.items: dict[tuple[str, K], tuple[Decimal, int]] = {}

    def __bool__(self) -> bool:
        return bool(self.items)

    def next_due_ms(self) -> int | float:
        """When the first of what was taken is due back (``inf`` when nothing was taken).

        >>> t = Taken[int]()
        >>> t.add("bid", 5, Decimal("1"), until_ms=2000); t.add("ask", 6, Decimal("1"), until_ms=1000)
        >>> t.next_due_ms(), Taken[int]().next_due_ms()
        (1000, inf)
        """
        return min((due for _, due in self.items.values()), default=math.inf)

    def add(self, side: str, key: K, qty: Decimal, *, until_ms: int) -> None:
        """Take ``qty`` more at ``key`` on ``side``, all of it due back at ``until_ms``."""
        old, _ = self.items.get((side, key), (ZERO, 0))
        self.items[(side, key)] = (old + qty, until_ms)

    def expire(self, ts_ms: int, *, bids: Mapping[K, Any] | None = None, asks: Mapping[K, Any] | None = None) -> None:
        """Forget what is due back by ``ts_ms``; with ``bids``/``asks``, also what sits at a level not in them."""
        keep = {}
        for (side, key), v in self.items.items():
            present = bids if side == "bid" else asks
            if v[1] > ts_ms and (present is None or key in present):
                keep[(side, key)] = v
        self.items = keep

    def apply(self, bids: Mapping[K, Decimal], asks: Mapping[K, Decimal]) -> tuple[dict[K, Decimal], dict[K, Decimal]]:
        """New level dicts: ``bids`` and ``asks`` less what was taken (a level taken whole is gone)."""
        out_b, out_a = dict(bids), dict(asks)
        for (side, key), (qty, _) in self.items.items():
            deduct(out_b if side == "bid" else out_a, key, qty)
        return out_b, out_a

    def rows(self, encode: Callable[[K], Any]) -> list[list[Any]]:
        """``[[side, encode(key), qty, until_ms], ...]`` for a state dump."""
        return [[s, encode(k), str(q), u] for (s, k), (q, u) in self.items.items()]

    def load(self, rows: list[list[Any]], decode: Callable[[Any], K]) -> None:
        """Replace the ledger with :meth:`rows` output."""
        self.items = {(str(s), decode(k)): (Decimal(q), int(u)) for s, k, q, u in rows}


def diff(old: Mapping[K, Decimal], new: Mapping[K, Decimal], price: Callable[[K], Decimal]) -> list[list[str]]:
    """``depthUpdate`` rows from one state of a side to the next: removed levels first (quantity 0).

    >>> diff({1: Decimal("2")}, {2: Decimal("1")}, lambda t: Decimal(t))
    [['1.00000000', '0.00000000'], ['2.00000000', '1.00000000']]
    """
    out = [[fmt(price(k)), REMOVED] for k in old if k not in new]
    out += [[fmt(price(k)), fmt(q)] for k, q in new.items() if old.get(k) != q]
    return out


def best(
    bids: Mapping[K, Decimal], asks: Mapping[K, Decimal], price: Callable[[K], Decimal]
) -> tuple[Level | None, Level | None]:
    """(best bid, best ask) as (price, quantity) pairs, ``None`` for an empty side.

    >>> best({1: Decimal("2"), 3: Decimal("1")}, {}, lambda t: Decimal(t))
    ((Decimal('3'), Decimal('1')), None)
    """
    bid = max(bids) if bids else None  # type: ignore[type-var]
    ask = min(asks) if asks else None  # type: ignore[type-var]
    return (
        (price(bid), bids[bid]) if bid is not None else None,
        (price(ask), asks[ask]) if ask is not None else None,
    )


def sorted_levels(
    bids: Mapping[K, Decimal], asks: Mapping[K, Decimal], price: Callable[[K], Decimal], limit: int | None = None
) -> tuple[list[Level], list[Level]]:
    """Bids descending and asks ascending, as (price, quantity) pairs (at most ``limit`` each)."""
    b = sorted(bids, reverse=True)[:limit]  # type: ignore[type-var]
    a = sorted(asks)[:limit]  # type: ignore[type-var]
    return [(price(k), bids[k]) for k in b], [(price(k), asks[k]) for k in a]
