"""Paper trading: the ``paper`` stage's venue, its fill model's wiring, shadow twins and drift.

- :mod:`kit.paper.venue`: a private localnet whose market mirrors another venue's public feed
  (``Session(exchange, stage="paper")`` talks real ccxt to it).
- :mod:`kit.paper.feed`: the upstream streams (ccxt.pro trades and book, REST fallback).
- :mod:`kit.paper.book`: the mirrored book with consumed liquidity.

See docs/paper.md.
"""
