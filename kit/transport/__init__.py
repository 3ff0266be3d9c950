"""How a request reaches an exchange and comes back.

- :mod:`kit.transport.limits`: the request-weight budget shared by every process of a machine.
- :mod:`kit.transport.backoff`: jittered exponential backoff for reads.
- :mod:`kit.transport.clock`: the offset and round trip to the exchange's clock.
- :mod:`kit.transport.ccxt_errors`: the one place where ccxt's exceptions become ``KitError``.
- :mod:`kit.transport.logs`: rotated JSON-lines request logs, secrets redacted (by :mod:`kit.redact`).
- :mod:`kit.transport.trade_order`: ccxt's lists of trades put back in the exchange's order.

The Session's request seam over these (``session.api``) is :class:`kit.session.base.ExchangeApi`.
"""
