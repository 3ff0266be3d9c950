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
>>> arr = np.array([[1.0, 2.0], [1.5, 2.5], [0.5, 1.5], [1.0, 2.0], [3.0, 4.0]])
>>> conv = candle_ticks(arr, np.array([0, 60_000]), 0.5, 1.0)
>>> conv is None or conv[0].tolist() == [[2, 3, 1, 2, 3, 0], [4, 5, 3, 4, 4, 60000]]
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "BLOCK", "LIMIT", "P", "available", "blocks", "candle_ticks", "compile_seconds", "equity", "fingerprint",
    "first_index", "first_reach", "fits", "simulate", "warm",
]  # fmt: skip

#: Every running balance and product stays below this (int64 holds up to ~9.2e18).
LIMIT = 1 << 62

# Parameter vector layout (``P[...]``): one int64 array keeps the compiled signature short.
P = {
    name: k
    for k, name in enumerate(
        (
            "market", "entry_q", "least", "through", "slip_min", "imp_a", "imp_b", "kq", "ks", "kfq", "kfb",
            "bm_num", "bm_den", "bt_num", "bt_den", "sm_num", "sm_den", "st_num", "st_den",
            "min_q", "max_q", "mkt_max_q", "min_n", "max_n", "cash", "interval", "part_num", "part_den",
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


def candle_ticks(
    arr: np.ndarray, stamps: np.ndarray, tick: float, step: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Candles in integer units, in one compiled pass: ``(rows, high, low)``.

    ``arr`` is the (5, n) float64 array of open, high, low, close, volume, ``stamps`` the open
    times in ms. ``rows`` is (n, 6) int64: open, high, low, close in ticks (``np.rint(x / tick)``),
    volume in whole steps (``np.floor(v / step + 1e-9)``) and the open time, so one candle is one
    cache line for the kernel's jumps from signal to signal; ``high`` and ``low`` are contiguous
    copies for its scans. None when numba is missing or a value is NaN.
    """
    fn = _compiled()
    if fn is None:
        return None
    n = arr.shape[1]
    rows = np.empty((n, 6), dtype=np.int64)
    hs, los = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    ok = fn[1](np.ascontiguousarray(arr, dtype=np.float64), np.ascontiguousarray(stamps), tick, step, rows, hs, los)
    return (rows, hs, los) if ok else None


#: Candles per block in :func:`first_reach`'s block extremes.
BLOCK = 1024


def blocks(arr: np.ndarray, above: bool) -> np.ndarray:
    """The max (``above``) or min of each :data:`BLOCK` of ``arr``, for :func:`first_reach`.

    >>> blocks(np.arange(2050), above=True).tolist()
    [1023, 2047, 2049]
    """
    if len(arr) == 0:
        return np.zeros(0, dtype=arr.dtype)
    starts = np.arange(0, len(arr), BLOCK)
    return (np.maximum if above else np.minimum).reduceat(arr, starts)


def first_reach(arr: np.ndarray, blk: np.ndarray, start: int, level: int, *, above: bool) -> int:
    """First index >= ``start`` where ``arr >= level`` (``above``) or ``arr <= level``; ``len(arr)`` if none.

    Whole blocks whose extreme (:func:`blocks`) cannot reach ``level`` are skipped, so a resting
    order far from the price costs a scan of the block extremes, not of every candle.

    >>> a = np.array([5, 3, 9, 1] * 600)
    >>> first_reach(a, blocks(a, above=False), 5, 0, above=False), first_reach(a, blocks(a, True), 1, 9, above=True)
    (2400, 2)
    """
    fn = _compiled()
    if fn is None:
        return first_index(arr, start, level, above=above)
    return int(fn[4](arr, blk, BLOCK, start, level, above))


def fingerprint(arr: np.ndarray) -> int | None:
    """A 64-bit digest of a C-contiguous float64 array's bytes (one compiled pass); None without numba.

    >>> a = np.arange(6.0).reshape(2, 3)
    >>> fingerprint(a) is None or fingerprint(a) != fingerprint(a[::-1].copy())
    True
    """
    fn = _compiled()
    if fn is None or not arr.flags.c_contiguous or arr.dtype != np.float64:
        return None
    return int(fn[3](arr.reshape(-1).view(np.uint64)))


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
    rows: np.ndarray, hs: np.ndarray, los: np.ndarray, sig: np.ndarray, kind: np.ndarray,
    lim_buy: np.ndarray, lim_sell: np.ndarray, params: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:  # fmt: skip
    """Run the signal loop compiled; ``(fills, orders, state)`` or None (numba missing, or int64 overflow).

    ``rows``, ``hs``, ``los`` come from :func:`candle_ticks`. ``sig`` holds the signal candles in
    order, ``kind`` 1 (entry) or 2 (exit) for each, and ``lim_buy`` / ``lim_sell`` the limit price
    in ticks for each (unused for market orders). ``fills`` has one row per fill: ts, order id,
    buy, price, qty, notional, fee, maker, candle, position change (ub), cash change (uq);
    ``orders`` one row per order, sorted by id: id, buy, market, qty, filled, price, status (0
    new, 1 partially filled, 2 filled, 3 canceled), fees; ``state`` the final quote free, quote
    locked, base free, base locked and whether any base moved.
    """
    fn = _compiled()
    if fn is None:
        return None
    n = rows.shape[0]
    cap = min(n, 2 * len(sig) + 64)
    while True:
        fills = np.empty((cap, 11), dtype=np.int64)
        orders = np.empty((len(sig) + 1, 8), dtype=np.int64)
        state = np.zeros(8, dtype=np.int64)
        status = fn[0](rows, hs, los, sig, kind, lim_buy, lim_sell, params, fills, orders, state)
        if status == 0:
            nf, no = int(state[5]), int(state[6])
            out = orders[:no]
            return fills[:nf], out[np.argsort(out[:, 0], kind="stable")], state[:5]
        if status == 2 or cap >= n:  # overflow: the Python kernel takes it
            return None
        cap = n  # at most one fill per candle: this always suffices


@functools.cache
def _compiled() -> tuple[Callable[..., Any], ...] | None:
    import time

    t0 = time.perf_counter()
    try:
        from kit.engine import _jitcode
    except ImportError:  # numba is not installed
        return None
    if _jitcode.SLOTS != list(P.values()) or _jitcode.lim != LIMIT:
        raise RuntimeError("kit.engine._jitcode's slot numbers differ from kit.engine.jit.P")
    fns = (_jitcode.run, _jitcode.ticks, _jitcode.curve, _jitcode.fingerprint, _jitcode.first_reach)
    # one tiny call of each loads the cached machine code (or compiles it): timed once, here
    one = np.zeros(1, dtype=np.int64)
    rows, hs, los = np.zeros((1, 6), dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    fns[1](np.ones((5, 1)), one, 1.0, 1.0, rows, hs, los)
    params = np.ones(len(P), dtype=np.int64)
    none = one[:0]
    fills, orders = np.empty((1, 11), dtype=np.int64), np.empty((1, 8), dtype=np.int64)
    fns[0](rows, hs, los, none, none, none, none, params, fills, orders, np.zeros(8, dtype=np.int64))
    fns[2](0.0, np.ones(1), one, np.ones(1), np.ones(1), np.empty(1))
    fns[3](np.zeros(1, dtype=np.uint64))
    fns[4](one, one, 1, 0, 0, True)
    _compile_s.append(time.perf_counter() - t0)
    return fns


def first_index(arr: np.ndarray, start: int, level: int, *, above: bool) -> int:
    """First index >= ``start`` where ``arr >= level`` (``above``) or ``arr <= level``; len if none.

    >>> first_index(np.array([5, 3, 9, 1]), 1, 8, above=True)
    2
    """
    n = len(arr)
    size = 256
    while start < n:
        end = min(n, start + size)
        seg = arr[start:end]
        hit = (seg >= level) if above else (seg <= level)
        k = int(hit.argmax())
        if hit[k]:
            return start + k
        start = end
        size *= 4
    return n
