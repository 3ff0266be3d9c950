"""Request weights, the per-IP weight budget with 429/418 bans, and unfilled-order counts.

Binance rules (rest-api.md "LIMITS"; weights from each endpoint's documentation):

- Each endpoint has a weight, some depending on parameters (``depth`` by ``limit``, tickers by
  the number of symbols). Weights add up per IP in fixed one-minute windows and are reported in
  ``X-MBX-USED-WEIGHT-1M``; ``/sapi`` endpoints have their own IP budget
  (``X-SAPI-USED-IP-WEIGHT-1M``).
- Over budget: HTTP 429, ``-1003``, with ``Retry-After`` (seconds until the window resets).
  Failing to back off (more than ``violations_before_ban`` further requests over budget in the
  window) bans the IP: HTTP 418 with ``Retry-After`` until the ban ends; ban lengths double for
  repeat offenders, from ``ban_base_s`` up to ``ban_max_s`` (Binance: 2 minutes to 3 days).
- New orders count per account in 10-second and 1-day windows (``X-MBX-ORDER-COUNT-10S`` /
  ``-1D``); orders that trade at once do not count (Binance's *unfilled* order count). Over the
  limit: ``-1015`` "Too many new orders; ...".

Time is the venue clock (simulated time), so tests can drive windows with a stepped clock.

Examples
--------
>>> from kit.localnet.config import LimitsConfig
>>> lim = RateLimiter(LimitsConfig(weight_per_minute=10, violations_before_ban=1, ban_base_s=120))
>>> [lim.charge("1.2.3.4", "api", 4, now_ms=0).status for _ in range(4)]
[200, 200, 429, 418]
>>> lim.charge("1.2.3.4", "api", 1, now_ms=60_000).status   # still banned
418
>>> lim.charge("1.2.3.4", "api", 1, now_ms=121_000).status
200
>>> weight("GET", "/api/v3/depth", {"limit": "1000"})
50
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from kit.localnet.config import LimitsConfig

_FIXED: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/trades"): 25,
    ("GET", "/api/v3/historicalTrades"): 25,
    ("GET", "/api/v3/aggTrades"): 4,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/uiKlines"): 2,
    ("GET", "/api/v3/avgPrice"): 2,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/test"): 1,
    ("DELETE", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/cancelReplace"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/rateLimit/order"): 40,
    ("GET", "/sapi/v1/system/status"): 1,
    ("GET", "/sapi/v1/account/apiRestrictions"): 1,
    ("GET", "/sapi/v1/capital/config/getall"): 10,
    ("POST", "/sapi/v1/capital/withdraw/apply"): 1,
    ("GET", "/sapi/v1/capital/withdraw/history"): 1,
    ("GET", "/sapi/v1/asset/tradeFee"): 1,
    ("GET", "/api/v3/account/commission"): 20,
    ("GET", "/sapi/v1/account/apiTradingStatus"): 1,
    ("GET", "/sapi/v1/account/status"): 1,
    ("GET", "/sapi/v1/capital/deposit/address"): 10,
    ("GET", "/sapi/v1/capital/deposit/hisrec"): 1,
    ("GET", "/sapi/v1/margin/allPairs"): 1,
    ("GET", "/sapi/v1/margin/isolated/allPairs"): 10,
}


def _symbol_count(params: dict[str, str]) -> int | None:
    if params.get("symbol"):
        return 1
    raw = params.get("symbols")
    if raw:
        try:
            return len(json.loads(raw))
        except (ValueError, TypeError):
            return 1
    return None


def weight(method: str, path: str, params: dict[str, str]) -> int:
    """Binance request weight of one call."""
    if path == "/api/v3/depth":
        try:
            limit = int(params.get("limit") or 100)
        except ValueError:
            limit = 100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    if path == "/api/v3/ticker":
        return min(4 * (_symbol_count(params) or 1), 200)
    if path == "/api/v3/ticker/24hr":
        n = _symbol_count(params)
        if n is None:
            return 80
        return 2 if n <= 20 else 40 if n <= 100 else 80
    if path in ("/api/v3/ticker/price", "/api/v3/ticker/bookTicker"):
        return 2 if params.get("symbol") else 4
    if path == "/api/v3/openOrders" and method == "GET":
        return 6 if params.get("symbol") else 80
    if path == "/api/v3/order/test" and params.get("computeCommissionRates") == "true":
        return 20
    if path == "/api/v3/myTrades" and params.get("orderId"):
        return 5  # rest-api.md "Account trade list": 20 without orderId, 5 with it
    if path.startswith(("/api/v3/orderList", "/api/v3/allOrderList", "/api/v3/openOrderList")):
        from kit.localnet.orderlists import LIST_WEIGHTS

        return LIST_WEIGHTS.get((method, path), 1)
    return _FIXED.get((method, path), 1)


@dataclass
class Verdict:
    """Result of charging a request: ``status`` 200 (go on), 429 or 418, plus headers."""

    status: int
    used: int
    headers: dict[str, str] = field(default_factory=dict)
    code: int = 0
    msg: str = ""


@dataclass
class _IpState:
    window: int = -1
    used: int = 0
    violations: int = 0
    banned_until: int = 0
    bans: int = 0


class RateLimiter:
    """Per-IP weight budgets and bans (one budget per API group: ``api``, ``sapi``)."""

    def __init__(self, config: LimitsConfig) -> None:
        self.config = config
        self._ips: dict[tuple[str, str], _IpState] = {}
        self._orders: dict[str, dict[str, tuple[int, int]]] = {}

    def _limit(self, group: str) -> int:
        return self.config.weight_per_minute if group == "api" else self.config.sapi_weight_per_minute

    def charge(self, ip: str, group: str, w: int, *, now_ms: int) -> Verdict:
        """Add ``w`` to ``ip``'s budget for ``group`` and decide whether the request may run."""
        header = "X-MBX-USED-WEIGHT-1M" if group == "api" else "X-SAPI-USED-IP-WEIGHT-1M"
        st = self._ips.setdefault((ip, group), _IpState())
        if not self.config.enabled:
            return Verdict(200, 0)
        # bans are per IP across groups
        ban = max(s.banned_until for (i, _), s in self._ips.items() if i == ip)
        if ban > now_ms:
            secs = -(-(ban - now_ms) // 1000)
            return Verdict(
                418,
                st.used,
                {header: str(st.used), "Retry-After": str(secs)},
                -1003,
                f"Way too much request weight used; IP banned until {ban}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
            )
        window = now_ms // 60_000
        if window != st.window:
            st.window, st.used, st.violations = window, 0, 0
        st.used += w
        headers = {header: str(st.used)}
        limit = self._limit(group)
        if st.used <= limit:
            return Verdict(200, st.used, headers)
        st.violations += 1
        if st.violations > self.config.violations_before_ban:
            length_ms = int(min(self.config.ban_base_s * 2**st.bans, self.config.ban_max_s) * 1000)
            st.bans += 1
            st.banned_until = now_ms + length_ms
            headers["Retry-After"] = str(-(-length_ms // 1000))
            return Verdict(
                418,
                st.used,
                headers,
                -1003,
                f"Way too much request weight used; IP banned until {st.banned_until}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
            )
        headers["Retry-After"] = str(-(-((window + 1) * 60_000 - now_ms) // 1000))
        return Verdict(
            429,
            st.used,
            headers,
            -1003,
            f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
            "Please use WebSocket Streams for live updates to avoid polling the API.",
        )

    # -------------------------------------------------------------- unfilled orders
    def _counts(self, account: str, now_ms: int) -> tuple[int, int]:
        st = self._orders.setdefault(account, {})
        w10, wday = now_ms // 10_000, now_ms // 86_400_000
        c10 = st.get("10s", (w10, 0))
        cday = st.get("1d", (wday, 0))
        n10 = c10[1] if c10[0] == w10 else 0
        nday = cday[1] if cday[0] == wday else 0
        st["10s"], st["1d"] = (w10, n10), (wday, nday)
        return n10, nday

    def order_headers(self, account: str, now_ms: int) -> dict[str, str]:
        """``X-MBX-ORDER-COUNT-10S`` / ``-1D`` for ``account`` now."""
        n10, nday = self._counts(account, now_ms)
        return {"X-MBX-ORDER-COUNT-10S": str(n10), "X-MBX-ORDER-COUNT-1D": str(nday)}

    def check_order(self, account: str, now_ms: int) -> Verdict:
        """Whether ``account`` may place one more order now (-1015 if not)."""
        n10, nday = self._counts(account, now_ms)
        headers = {"X-MBX-ORDER-COUNT-10S": str(n10), "X-MBX-ORDER-COUNT-1D": str(nday)}
        if not self.config.enabled:
            return Verdict(200, 0, headers)
        if n10 >= self.config.orders_per_10s:
            return Verdict(
                self.config.order_limit_status,
                0,
                headers,
                -1015,
                f"Too many new orders; current limit is {self.config.orders_per_10s} orders per 10 SECOND.",
            )
        if nday >= self.config.orders_per_day:
            return Verdict(
                self.config.order_limit_status,
                0,
                headers,
                -1015,
                f"Too many new orders; current limit is {self.config.orders_per_day} orders per 1 DAY.",
            )
        return Verdict(200, 0, headers)

    def count_order(self, account: str, now_ms: int, delta: int = 1) -> dict[str, str]:
        """Add ``delta`` (may be negative: an order traded) to the unfilled counts; returns headers."""
        n10, nday = self._counts(account, now_ms)
        st = self._orders[account]
        st["10s"] = (st["10s"][0], max(0, n10 + delta))
        st["1d"] = (st["1d"][0], max(0, nday + delta))
        return self.order_headers(account, now_ms)
