"""The compiled signals kernel: :mod:`kit.engine.kernel`'s rules as one numba function over int64 arrays.

Same rules, same integer units (ticks, steps, quote units ``uq``, base units ``ub``) as the
pure-Python :class:`kit.engine.kernel.Kernel`, which stays as the reference and the fallback:
the whole signal loop, the search for the next candle that can fill the working order, and every
fill run compiled, writing fills and orders into preallocated int64 arrays. Nothing here uses a
float for a price or an amount. ``tests/engine/test_kernel.py`` checks with hypothesis that this
path, the Python kernel and the engine path give identical fills, orders and balances.

numba is imported on first use only (``import kit`` and ``kit --help`` never load it), and the
compiled code is cached on disk (``cache=True``: in ``__pycache__`` beside this file, or numba's
user cache when that is read-only), so only the very first call on a machine compiles (a few
seconds; ``benchmarks/bench_replay.py`` prints it). :func:`available` says whether numba is
installed; without it the replay takes the Python kernel.

Int64 arithmetic cannot overflow silently: :func:`fits` bounds every product the kernel forms
before it runs, and the running balances are checked against ``LIMIT`` as they change; a case
that does not fit returns ``None`` and the caller uses the Python kernel (unbounded ints).

>>> import numpy as np
>>> conv = candle_ticks(np.array([[1.0, 2.0], [1.5, 2.5], [0.5, 1.5], [1.0, 2.0], [3.0, 4.0]]), 0.5, 1.0)
>>> conv is None or conv[0].tolist() == [[2, 4], [3, 5], [1, 3], [2, 4]]
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["LIMIT", "P", "available", "candle_ticks", "compile_seconds", "equity", "fits", "simulate", "warm"]

#: Every running balance and product stays below this (int64 holds up to ~9.2e18).
LIMIT = 1 << 62

# Parameter vector layout (``P[...]``): one int64 array keeps the compiled signature short.
P = {
    name: k
    for k, name in enumerate(
        (
            "market", "entry_q", "least", "through", "slip_min", "imp_a", "imp_b", "kq", "ks", "kfq", "kfb",
            "bm_num", "bm_den", "bt_num", "bt_den", "sm_num", "sm_den", "st_num", "st_den",
            "min_q", "max_q", "mkt_max_q", "min_n", "max_n", "cash", "interval",
        )
    )
}  # fmt: skip

_compile_s: list[float] = []


def available() -> bool:
    """True when numba can be imported (the compiled kernel can run)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def warm() -> float | None:
    """Load (or, on a machine's first use, compile and cache) the kernel now; the seconds it took.

    ``make`` runs it once after installing, so a notebook's first replay does not compile.
    None when numba is not installed.
    """
    return compile_seconds() if _compiled() is not None else None


def compile_seconds() -> float | None:
    """Seconds the first use in this process spent loading (or compiling) the kernel; None before it."""
    return _compile_s[0] if _compile_s else None


def fits(products: list[int]) -> bool:
    """True when every bound in ``products`` (exact ints) stays below :data:`LIMIT`.

    >>> fits([10**12, 2**61]), fits([2**63])
    (True, False)
    """
    return all(0 <= p < LIMIT for p in products)


def candle_ticks(arr: np.ndarray, tick: float, step: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Open, high, low, close as int64 ticks and volume as whole steps, in one compiled pass.

    ``arr`` is the (5, n) float64 array of open, high, low, close, volume. The same values as
    ``np.rint(x / tick)`` and ``np.floor(v / step + 1e-9)``; None when numba is missing or a
    value is NaN (the caller then raises its own error).
    """
    fn = _compiled()
    if fn is None:
        return None
    out = np.empty((4, arr.shape[1]), dtype=np.int64)
    vol = np.empty(arr.shape[1], dtype=np.int64)
    ok = fn[1](np.ascontiguousarray(arr, dtype=np.float64), tick, step, out, vol)
    return (out, vol) if ok else None


def equity(
    n: int, start_cash: float, close: np.ndarray, idx: np.ndarray, dpos: np.ndarray, dcash: np.ndarray
) -> np.ndarray:
    """Cash plus position at every close, in one pass over the candles and the fills.

    ``idx`` (non-decreasing) is each fill's candle, ``dpos`` / ``dcash`` its position and cash
    changes. The same floats as summing each candle's changes (``np.bincount``), then
    ``start_cash + cumsum(cash) + cumsum(position) * close``, which is the fallback without numba.

    >>> equity(3, 100.0, np.array([10.0, 11.0, 12.0]), np.array([1]), np.array([2.0]), np.array([-20.0])).tolist()
    [100.0, 102.0, 104.0]
    """
    fn = _compiled()
    if fn is not None and n > 0 and (len(idx) == 0 or bool((np.diff(idx) >= 0).all())):
        out = np.empty(n, dtype=np.float64)
        fn[2](start_cash, np.ascontiguousarray(close, dtype=np.float64), idx, dpos, dcash, out)
        return out
    position = np.cumsum(np.bincount(idx, weights=dpos, minlength=n)) if n else np.zeros(0)
    cash = start_cash + np.cumsum(np.bincount(idx, weights=dcash, minlength=n)) if n else np.zeros(0)
    return np.asarray(cash + position * close, dtype=np.float64)


def simulate(
    o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray, ts: np.ndarray,
    budget: np.ndarray, sig: np.ndarray, kind: np.ndarray, lim_buy: np.ndarray, lim_sell: np.ndarray,
    params: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:  # fmt: skip
    """Run the signal loop compiled; ``(fills, orders, state)`` or None (numba missing, or int64 overflow).

    ``sig`` holds the signal candles in order, ``kind`` 1 (entry) or 2 (exit) for each, and
    ``lim_buy`` / ``lim_sell`` the limit price in ticks for each (unused for market orders).
    ``fills`` has one row per fill: ts, order id, buy, price, qty, notional, fee, maker, candle,
    position change (ub), cash change (uq); ``orders`` one row per order, sorted by id: id, buy,
    market, qty, filled, price, status (0 new, 1 partially filled, 2 filled, 3 canceled), fees;
    ``state`` the final quote free, quote locked, base free, base locked and whether any base moved.
    """
    fn = _compiled()
    if fn is None:
        return None
    cap = min(len(o), 2 * len(sig) + 64)
    while True:
        fills = np.empty((cap, 11), dtype=np.int64)
        orders = np.empty((len(sig) + 1, 8), dtype=np.int64)
        state = np.zeros(8, dtype=np.int64)
        status = fn[0](o, h, lo, c, v, ts, budget, sig, kind, lim_buy, lim_sell, params, fills, orders, state)
        if status == 0:
            nf, no = int(state[5]), int(state[6])
            out = orders[:no]
            return fills[:nf], out[np.argsort(out[:, 0], kind="stable")], state[:5]
        if status == 2 or cap >= len(o):  # overflow: the Python kernel takes it
            return None
        cap = len(o)  # at most one fill per candle: this always suffices


@functools.cache
def _compiled() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None:
    import time

    t0 = time.perf_counter()
    try:
        from kit.engine import _jitcode
    except ImportError:  # numba is not installed
        return None
    if _jitcode.SLOTS != list(P.values()) or _jitcode.lim != LIMIT:
        raise RuntimeError("kit.engine._jitcode's slot numbers differ from kit.engine.jit.P")
    fns = (_jitcode.run, _jitcode.ticks, _jitcode.curve)
    # one tiny call of each loads the cached machine code (or compiles it): timed once, here
    one = np.zeros(1, dtype=np.int64)
    fns[1](np.ones((5, 1)), 1.0, 1.0, np.empty((4, 1), dtype=np.int64), np.empty(1, dtype=np.int64))
    params = np.zeros(len(P), dtype=np.int64)
    params[P["imp_b"]] = params[P["bm_den"]] = params[P["bt_den"]] = params[P["sm_den"]] = params[P["st_den"]] = 1
    params[P["ks"]] = params[P["kq"]] = 1
    none = one[:0]
    fills, orders = np.empty((1, 11), dtype=np.int64), np.empty((1, 8), dtype=np.int64)
    state = np.zeros(8, dtype=np.int64)
    fns[0](one, one, one, one, one, one, one, none, none, none, none, params, fills, orders, state)
    fns[2](0.0, np.ones(1), one, np.ones(1), np.ones(1), np.empty(1))
    _compile_s.append(time.perf_counter() - t0)
    return fns
