"""Reconciliation: make the journal agree with the exchange, and say what differed.

Run it when a Session starts (the process may have died with orders in flight) and whenever the
journal may have missed something (a stream was down, the exchange was unreachable).
:func:`reconcile` compares, in this order:

1. **Orders whose outcome is unknown** (journal status ``intent``: the process died between
   journaling and the acknowledgement, or ``unknown``: the request failed in transit). Each is
   looked up by its client order id, never resent. Found: journaled as ``resolved`` + ``ack``.
   Not found once the order's time window has passed (the exchange refuses a request whose
   signed timestamp is older than ``recvWindow``, so after ``intent + recvWindow + clock error``
   it can never appear): journaled ``resolved`` with status ``not_placed``. Not found inside the
   window: left alone and reported as ``pending``.
2. **Orders the journal thinks are open** but the exchange has closed, cancelled or expired
   (filled or cancelled while the process was down, or a cancel whose acknowledgement was lost):
   journaled as an ``order`` update with the exchange's status.
3. **Orders on the exchange the kit did not place** (open orders whose client id is not in the
   journal): reported, never touched.
4. **Fills**: per symbol, every trade since the watermark (the last exchange trade seen by the
   previous reconcile, less a few minutes of overlap for trades published late; for the first
   one, the first intent or fill of the symbol, minus a margin for clock error) is fetched,
   paging through windows of at most 24 hours and through full pages, so there is no gap.
   Missing ones are journaled with :meth:`~kit.journal.journal.Journal.record_fill` (exactly once,
   whoever else is writing). The watermark is the *exchange's* last trade time, not the local
   clock, and not the last fill the journal holds: a stream can journal a later fill while an
   earlier one was lost.
5. **Balances**: where the journal has a balance snapshot, the exchange's totals are compared
   with :meth:`~kit.journal.journal.Journal.state_at` balances and each difference is reported; a fresh
   snapshot (timed by the exchange's account update time) is journaled either way.

Every correction is also journaled as a ``"reconcile"`` event with its reason, and a final
``"reconcile"`` event (``action="summary"``) carries the counts and the per-symbol watermarks.

The package: :mod:`~kit.ops.reconcile.compare` (:func:`reconcile`, the walk through the checks),
:mod:`~kit.ops.reconcile.apply` (the corrections and their journal events, :func:`settle_order`,
:func:`adopt_fills`), :mod:`~kit.ops.reconcile.exchange` (the reads, :func:`order_window_ms`),
:mod:`~kit.ops.reconcile.report` (:class:`Finding`, :class:`ReconcileReport`), :mod:`~kit.cli.reconcile`
(``kit reconcile``). The fill sweep itself belongs to the Session (:mod:`kit.session.fills`), whose
streams backfill with it; nothing in :mod:`kit.session` imports this package.

>>> from kit.session import Session              # doctest: +SKIP
>>> report = reconcile(Session("localnet"))      # doctest: +SKIP
>>> print(report.table())                        # doctest: +SKIP
"""

from kit.ops.reconcile.apply import adopt_fills, settle_order
from kit.ops.reconcile.compare import reconcile
from kit.ops.reconcile.exchange import order_window_ms
from kit.ops.reconcile.report import Finding, ReconcileReport

__all__ = ["Finding", "ReconcileReport", "adopt_fills", "order_window_ms", "reconcile", "settle_order"]
