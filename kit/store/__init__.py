"""kit.store: exchange candles cached as Hive-partitioned Parquet, filled through a Session.

>>> from kit.store import Store                      # doctest: +SKIP
>>> store = Store("data", source=session.candle_source())             # doctest: +SKIP
>>> store.candles("BTC/USDT", "1h", pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-02-01", tz="UTC"))
...                                                                    # doctest: +SKIP

Modules: :mod:`~kit.store.paths` (pure naming), :mod:`~kit.store.parquet` (file I/O),
:mod:`~kit.store.ledger` (coverage), :mod:`~kit.store.checks` (integrity rules),
:mod:`~kit.store.fill` (fetching through a :class:`CandleSource`), :mod:`~kit.store.resample`,
:mod:`~kit.store.series` (one series on disk), :mod:`~kit.store.verify`, :mod:`~kit.store.store`
(the :class:`Store` facade), :mod:`~kit.cli.candles` (``kit candles``). See docs/store.md.
"""

from kit.store.fill import CandleWarning
from kit.store.source import CandleSource
from kit.store.store import Store

__all__ = ["CandleSource", "CandleWarning", "Store"]
