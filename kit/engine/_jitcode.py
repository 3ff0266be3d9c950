"""The numba code of :mod:`kit.engine.jit` (imported by it on first use; this module imports numba).

Every function is defined at module level with constant globals only, so numba's on-disk cache
(``cache=True``) serves it to every later process. The slot numbers below are the layout of the
parameter vector :data:`kit.engine.jit.P` (which checks them before use). It imports nothing
from kit, so the lazy import from :mod:`kit.engine.jit` makes no circle.
"""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


# state slots
QF, QL, BF, BL, ANY, NF, NO, ERR = 0, 1, 2, 3, 4, 5, 6, 7
# working order slots (``w``)
LIVE, BUY, MKT, FRESH, OID, Q, FILLED, PX, START, LOCK, FEES, STATUS, NEXT = range(13)
# parameter slots: literals (numba bakes globals into the cached machine code)
K_MARKET, K_ENTRY, K_LEAST, K_THROUGH, K_SLIP, K_A, K_B, K_KQ, K_KS, K_KFQ, K_KFB = range(11)
K_BMN, K_BMD, K_BTN, K_BTD, K_SMN, K_SMD, K_STN, K_STD = range(11, 19)
K_MINQ, K_MAXQ, K_MMAXQ, K_MINN, K_MAXN, K_CASH, K_IV, K_P0, K_P1 = range(19, 28)
# candle row columns
RO, RH, RL, RC, RV, RT = range(6)
lim = 1 << 62
#: The slots in order, for kit.engine.jit to check against its P before using this module.
SLOTS = [K_MARKET, K_ENTRY, K_LEAST, K_THROUGH, K_SLIP, K_A, K_B, K_KQ, K_KS, K_KFQ, K_KFB, K_BMN, K_BMD, K_BTN,
         K_BTD, K_SMN, K_SMD, K_STN, K_STD, K_MINQ, K_MAXQ, K_MMAXQ, K_MINN, K_MAXN, K_CASH, K_IV,
         K_P0, K_P1]  # fmt: skip


@_jit
def ticks(arr, stamps, tick, step, rows, hs, los):
    """Rows of open, high, low, close (ticks), volume (steps) and open time per candle; False on NaN."""
    n = arr.shape[1]
    for i in range(n):
        for k in range(4):
            x = arr[k, i]
            if x != x:
                return False
            rows[i, k] = np.int64(np.rint(x / tick))
        x = arr[4, i]
        if x != x:
            return False
        rows[i, RV] = np.int64(np.floor(x / step + 1e-9))
        rows[i, RT] = stamps[i]
        hs[i] = rows[i, RH]
        los[i] = rows[i, RL]
    return True


@_jit
def fingerprint(words):
    """A 64-bit digest of a flat uint64 array: its wrapping sum and position-weighted sum."""
    a = np.uint64(0)
    b = np.uint64(0)
    for i in range(len(words)):
        a += words[i]
        b += words[i] * np.uint64(2 * i + 1)
    return a ^ (b * np.uint64(1099511628211))


@_jit
def first_index(arr, start, level, above):
    n = len(arr)
    if above:
        for j in range(start, n):
            if arr[j] >= level:
                return j
    else:
        for j in range(start, n):
            if arr[j] <= level:
                return j
    return n


@_jit
def first_reach(arr, blk, size, start, level, above):
    """First index >= ``start`` where ``arr`` reaches ``level``, skipping whole blocks by their extreme.

    ``blk[b]`` is the max (``above``) or min of ``arr[b * size : (b + 1) * size]``.
    """
    n = len(arr)
    end = min(n, (start // size + 1) * size)
    if start >= n:
        return n
    j = first_index(arr[:end], start, level, above)
    if j < end or end >= n:
        return j if j < end else n
    for b in range(end // size, len(blk)):
        if (blk[b] >= level) if above else (blk[b] <= level):
            lo = b * size
            return first_index(arr[: min(n, lo + size)], lo, level, above)
    return n


@_jit
def slip(pr, r, q, vv):
    a, b = pr[K_A], pr[K_B]
    if vv <= 0 or r <= 0 or a == 0:
        return pr[K_SLIP]
    x = a * a * r * r * q
    y = b * b * vv
    k = np.int64(np.sqrt(x / y))
    while k > 0 and (k - 1) * (k - 1) * y >= x:
        k -= 1
    while k * k * y < x:
        k += 1
    return pr[K_SLIP] + k


@_jit
def passes(pr, q, p, market):
    if q < pr[K_MINQ] or (pr[K_MAXQ] >= 0 and q > pr[K_MAXQ]):
        return False
    if market and pr[K_MMAXQ] >= 0 and q > pr[K_MMAXQ]:
        return False
    nn = p * q
    return nn >= pr[K_MINN] and (pr[K_MAXN] < 0 or nn <= pr[K_MAXN])


@_jit
def close(w, st, orders):
    k = st[NO]
    orders[k, 0] = w[OID]
    orders[k, 1] = w[BUY]
    orders[k, 2] = w[MKT]
    orders[k, 3] = w[Q]
    orders[k, 4] = w[FILLED]
    orders[k, 5] = w[PX]
    orders[k, 6] = w[STATUS]
    orders[k, 7] = w[FEES]
    st[NO] = k + 1
    w[LIVE] = 0


@_jit
def release(w, st):
    if w[BUY]:
        st[QF] += w[LOCK]
        st[QL] -= w[LOCK]
    else:
        st[BF] += w[LOCK]
        st[BL] -= w[LOCK]
    w[LOCK] = 0


@_jit
def fill(w, st, pr, fills, orders, p, q, maker, t, i):
    k = st[NF]
    if k >= fills.shape[0]:
        st[ERR] = 1
        return
    kq, ks = pr[K_KQ], pr[K_KS]
    notional = p * q * kq
    if w[BUY]:
        num, den = (pr[K_BMN], pr[K_BMD]) if maker else (pr[K_BTN], pr[K_BTD])
        fee = min(((q * num + den - 1) // den) * pr[K_KFB], q * ks)
        if not w[MKT]:
            reserved = q * w[PX] * kq
            st[QL] -= reserved
            st[QF] += reserved - notional
            w[LOCK] -= reserved
        else:
            st[QF] -= notional
        net_base = q * ks - fee
        st[BF] += net_base
        pos, cash = net_base, -notional
    else:
        num, den = (pr[K_SMN], pr[K_SMD]) if maker else (pr[K_STN], pr[K_STD])
        fee = min(((p * q * num + den - 1) // den) * pr[K_KFQ], notional)
        st[BL] -= q * ks
        w[LOCK] -= q * ks
        net_quote = notional - fee
        st[QF] += net_quote
        pos, cash = -q * ks, net_quote
    if st[QF] >= lim or st[BF] >= lim:
        st[ERR] = 2
    if pos != 0:  # the engine books no change of zero (a fee that takes all a buy received)
        st[ANY] = 1
    w[FILLED] += q
    w[FEES] += fee
    fills[k, 0] = t
    fills[k, 1] = w[OID]
    fills[k, 2] = w[BUY]
    fills[k, 3] = p
    fills[k, 4] = q
    fills[k, 5] = notional
    fills[k, 6] = fee
    fills[k, 7] = maker
    fills[k, 8] = i
    fills[k, 9] = pos
    fills[k, 10] = cash
    st[NF] = k + 1
    if w[FILLED] >= w[Q]:
        w[STATUS] = 2
        release(w, st)
        close(w, st, orders)
    else:
        w[STATUS] = 1


@_jit
def budget(pr, rows, i):
    return rows[i, RV] * pr[K_P0] // pr[K_P1]


@_jit
def first_budget(pr, rows, start):
    n = rows.shape[0]
    for j in range(start, n):
        if budget(pr, rows, j) >= 1:
            return j
    return n


@_jit
def taker(w, st, pr, fills, orders, rows, i, ref):
    b = budget(pr, rows, i)
    if b <= 0:
        return
    hi, low = rows[i, RH], rows[i, RL]
    want = min(w[Q] - w[FILLED], b)
    s = slip(pr, hi - low, want, rows[i, RV])
    if w[BUY]:
        price = min(ref + s, hi)
        if not w[MKT]:
            price = min(price, w[PX])
    else:
        price = max(ref - s, low)
        if not w[MKT]:
            price = max(price, w[PX])
    q = want
    if w[BUY] and w[MKT]:
        q = min(q, st[QF] // (price * pr[K_KQ]))
    if q > 0:
        fill(w, st, pr, fills, orders, price, q, 0, rows[i, RT], i)


@_jit
def maker(w, st, pr, fills, orders, rows, i):
    b = budget(pr, rows, i)
    if b <= 0:
        return
    oo, hi, low = rows[i, RO], rows[i, RH], rows[i, RL]
    buy = w[BUY] != 0
    edge = w[PX] - pr[K_THROUGH] if buy else w[PX] + pr[K_THROUGH]
    if not ((low <= edge) if buy else (hi >= edge)):
        return
    t, iv = rows[i, RT], pr[K_IV]
    if (oo <= edge) if buy else (oo >= edge):
        pass
    elif ((hi - oo) >= (oo - low)) == buy:
        t += iv // 3
    else:
        t += 2 * iv // 3
    fill(w, st, pr, fills, orders, w[PX], min(w[Q] - w[FILLED], b), 1, t, i)


@_jit
def advance(w, st, pr, fills, orders, rows, hs, los, end):
    n = rows.shape[0]
    while w[LIVE] and w[START] <= end and st[ERR] == 0:
        i = w[START]
        if w[FRESH]:
            w[FRESH] = 0
            oo = rows[i, RO]
            if w[MKT] or ((oo <= w[PX]) if w[BUY] else (oo >= w[PX])):
                taker(w, st, pr, fills, orders, rows, i, oo)
            else:
                maker(w, st, pr, fills, orders, rows, i)
            w[START] = i + 1
            continue
        if w[MKT]:
            j = first_budget(pr, rows, i)
        elif w[BUY]:
            j = first_index(los, i, w[PX] - pr[K_THROUGH], False)
        else:
            j = first_index(hs, i, w[PX] + pr[K_THROUGH], True)
        if j > end or j >= n:
            w[START] = j
            return
        if w[MKT]:
            taker(w, st, pr, fills, orders, rows, j, rows[j, RO])
        else:
            maker(w, st, pr, fills, orders, rows, j)
        w[START] = j + 1


@_jit
def place(w, st, pr, rows, i, buy, q, p, market):
    last = rows[i, RC]
    if q <= 0 or (not market and p <= 0) or not passes(pr, q, last if market else p, market):
        return
    if buy:
        need = q * (last if market else p) * pr[K_KQ]
        if st[QF] < need:
            return
        lock = 0 if market else need
        st[QF] -= lock
        st[QL] += lock
    else:
        lock = q * pr[K_KS]
        if st[BF] < lock:
            return
        st[BF] -= lock
        st[BL] += lock
    fresh = market or ((p >= last) if buy else (p <= last))
    w[LIVE], w[BUY], w[MKT], w[FRESH] = 1, buy, market, fresh
    w[OID], w[Q], w[FILLED], w[PX], w[START] = w[NEXT], q, 0, 0 if market else p, i + 1
    w[LOCK], w[FEES], w[STATUS] = lock, 0, 0
    w[NEXT] += 1


@_jit
def run(rows, hs, los, sig, kind, lim_buy, lim_sell, pr, fills, orders, st):
    n = rows.shape[0]
    w = np.zeros(13, dtype=np.int64)
    w[NEXT] = 1
    st[QF] = pr[K_CASH]
    market = pr[K_MARKET] != 0
    ks, least = pr[K_KS], pr[K_LEAST]
    for s in range(len(sig)):
        i = sig[s]
        advance(w, st, pr, fills, orders, rows, hs, los, i)
        if st[ERR] != 0:
            return st[ERR]
        working_entry = w[LIVE] != 0 and w[BUY] != 0
        working_exit = w[LIVE] != 0 and w[BUY] == 0
        if kind[s] == 2:
            if working_entry:
                release(w, st)
                w[STATUS] = 3
                close(w, st, orders)
            q = (st[BF] + st[BL]) // ks
            if q >= least and not working_exit:
                place(w, st, pr, rows, i, 0, q, lim_sell[s], market)
        elif (st[BF] + st[BL]) // ks < least and w[LIVE] == 0:
            place(w, st, pr, rows, i, 1, pr[K_ENTRY], lim_buy[s], market)
    if n > 0:
        advance(w, st, pr, fills, orders, rows, hs, los, n - 1)
    if st[ERR] != 0:
        return st[ERR]
    if w[LIVE]:
        close(w, st, orders)
    return 0


@_jit
def curve(start_cash, close, idx, dpos, dcash, out):
    f, nf = 0, len(idx)
    pos = 0.0
    cash = 0.0
    for i in range(len(close)):
        if f < nf and idx[f] == i:
            bp = 0.0
            bc = 0.0
            while f < nf and idx[f] == i:
                bp += dpos[f]
                bc += dcash[f]
                f += 1
            pos += bp
            cash += bc
        out[i] = (start_cash + cash) + pos * close[i]
