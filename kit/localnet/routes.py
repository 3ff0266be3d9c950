"""REST endpoint handlers: decode parameters, call the venue, encode the answer.

Each handler takes ``(venue, params, ctx)`` and returns a JSON-able body (or raises
:class:`~kit.localnet.wire.VenueError`). Authentication, weights, faults and logging happen
around them in :mod:`kit.localnet.app`. ``ROUTES`` maps ``(method, path)`` to
``(handler, security)`` where security is ``None`` (public), ``"key"`` (API key only) or the
permission a signed request needs (``"reading"``, ``"spot_trading"``, ``"withdrawals"``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kit.localnet import orderlists, replace, wallet, wire
from kit.localnet.auth import ApiKey, api_restrictions
from kit.localnet.market import CALENDAR_INTERVALS, INTERVALS_MS
from kit.localnet.wire import VenueError, error, mandatory, parse_decimal, parse_int

Handler = Callable[[Any, dict[str, str], "Ctx"], Any]


@dataclass
class Ctx:
    """Per-request context handed to handlers."""

    key: ApiKey | None
    ip: str
    headers: dict[str, str]
    drop_response: bool = False


# ---------------------------------------------------------------------- helpers
def _symbol(venue: Any, params: dict[str, str]) -> str:
    sid = _symbol_opt(venue, params)
    if sid is None:
        raise mandatory("symbol")
    return sid


def _symbol_opt(venue: Any, params: dict[str, str]) -> str | None:
    sid = params.get("symbol")
    if not sid:
        return None
    if sid not in venue.symbols:
        raise error(-1121, "Invalid symbol.")
    return sid


def _symbols(venue: Any, params: dict[str, str]) -> list[str]:
    """``symbol`` or ``symbols=["A","B"]`` or all."""
    if params.get("symbol"):
        return [_symbol(venue, params)]
    raw = params.get("symbols")
    if raw:
        try:
            ids = json.loads(raw)
            assert isinstance(ids, list)
        except (ValueError, AssertionError):
            raise error(
                -1100,
                "Illegal characters found in parameter 'symbols'; legal range is "
                '\'^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$\'.',
            ) from None
        if len(set(ids)) != len(ids):
            raise error(-1151, "Symbol is present multiple times in the list.")
        for s in ids:
            if s not in venue.symbols:
                raise error(-1121, "Invalid symbol.")
        return list(ids)
    return list(venue.symbols)


def _limit(params: dict[str, str], default: int, maximum: int) -> int:
    n = parse_int(params, "limit", default=default)
    assert n is not None
    if n <= 0:
        raise error(-1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.")
    return min(n, maximum)


def _account(ctx: Ctx) -> str:
    assert ctx.key is not None
    return ctx.key.account


def _order_ref(params: dict[str, str]) -> tuple[int | None, str | None]:
    oid = parse_int(params, "orderId")
    cid = params.get("origClientOrderId") or None
    if oid is None and cid is None:
        raise error(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    return oid, cid


def _single_or_list(params: dict[str, str], items: list[Any]) -> Any:
    return items[0] if params.get("symbol") else items


# ---------------------------------------------------------------------- general / market
def ping(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/ping."""
    return {}


def server_time(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/time."""
    return {"serverTime": venue.server_ms()}


def exchange_info(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/exchangeInfo (all, ``symbol`` or ``symbols``)."""
    ids = _symbols(venue, params)
    lim = venue.config.limits
    return wire.exchange_info(
        [venue.symbols[s].spec for s in ids],
        wire.ORDER_TYPES,
        server_ms=venue.server_ms(),
        weight_per_minute=lim.weight_per_minute,
        orders_per_10s=lim.orders_per_10s,
        orders_per_day=lim.orders_per_day,
    )


def depth(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/depth."""
    sid = _symbol(venue, params)
    return venue.depth(sid, _limit(params, 100, 5000))


def trades(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/trades (and historicalTrades with ``fromId``)."""
    sid = _symbol(venue, params)
    limit = _limit(params, 500, 1000)
    from_id = parse_int(params, "fromId")
    prints = list(venue.recent[sid])
    if from_id is not None:
        prints = [p for p in prints if p.id >= from_id][:limit]
    else:
        prints = prints[-limit:]
    return [wire.trade_rest(p) for p in prints]


def agg_trades(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/aggTrades."""
    sid = _symbol(venue, params)
    limit = _limit(params, 500, 1000)
    start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
    from_id = parse_int(params, "fromId")
    if start is not None and end is not None and end - start > 3_600_000:
        raise error(-1127, "More than 1 hours between startTime and endTime.")
    prints = list(venue.recent[sid])
    if from_id is not None:
        prints = [p for p in prints if p.id >= from_id][:limit]
    elif start is not None or end is not None:
        lo = start if start is not None else (end or 0) - 3_600_000
        hi = end if end is not None else lo + 3_600_000
        prints = [p for p in prints if lo <= p.ts_ms <= hi][:limit]
    else:
        prints = prints[-limit:]
    return [wire.agg_trade_rest(p) for p in prints]


def klines(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/klines (and uiKlines)."""
    sid = _symbol(venue, params)
    interval = params.get("interval")
    if not interval:
        raise mandatory("interval")
    if interval not in INTERVALS_MS and interval not in CALENDAR_INTERVALS:
        raise error(-1120, "Invalid interval.")
    limit = _limit(params, 500, 1000)
    try:
        return venue.klines(
            sid, interval, start_ms=parse_int(params, "startTime"), end_ms=parse_int(params, "endTime"), limit=limit
        )
    except ValueError:
        raise error(-1120, "Invalid interval.") from None


def avg_price(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/avgPrice (5-minute average)."""
    sid = _symbol(venue, params)
    rows = venue.klines(sid, "1m", start_ms=None, end_ms=None, limit=5)
    vol = sum((Decimal(r[5]) for r in rows), Decimal(0))
    qv = sum((Decimal(r[7]) for r in rows), Decimal(0))
    price = qv / vol if vol else venue.last_price[sid]
    return {"mins": 5, "price": wire.fmt(price.quantize(wire.EIGHT)), "closeTime": venue.clock.now_ms()}


def ticker_24h(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/ticker/24hr (single object for ``symbol``, else an array)."""
    items = [venue.ticker(s) for s in _symbols(venue, params)]
    if params.get("type") == "MINI":
        keep = (
            "symbol",
            "openPrice",
            "highPrice",
            "lowPrice",
            "lastPrice",
            "volume",
            "quoteVolume",
            "openTime",
            "closeTime",
            "firstId",
            "lastId",
            "count",
        )
        items = [{k: t[k] for k in keep} for t in items]
    return _single_or_list(params, items)


_WINDOW_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def ticker_rolling(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/ticker (rolling window statistics, ``windowSize`` 1m..59m, 1h..23h, 1d..7d)."""
    raw = params.get("windowSize") or "1d"
    unit, num = raw[-1:], raw[:-1]
    limits = {"m": 59, "h": 23, "d": 7}
    if unit not in _WINDOW_UNITS or not num.isdigit() or not 1 <= int(num) <= limits[unit]:
        raise error(-1100, "Illegal characters found in parameter 'windowSize'.")
    window = int(num) * _WINDOW_UNITS[unit]
    drop = ("lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "prevClosePrice")
    items = [{k: v for k, v in venue.ticker(s, window).items() if k not in drop} for s in _symbols(venue, params)]
    return _single_or_list(params, items)


def ticker_price(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/ticker/price."""
    items = [{"symbol": s, "price": wire.fmt(venue.last_price[s])} for s in _symbols(venue, params)]
    return _single_or_list(params, items)


def book_ticker(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/ticker/bookTicker."""
    return _single_or_list(params, [venue.book_ticker(s) for s in _symbols(venue, params)])


def system_status(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/system/status (answers during maintenance too)."""
    if venue.faults.maintenance:
        return {"status": 1, "msg": "system_maintenance"}
    return {"status": 0, "msg": "normal"}


# ---------------------------------------------------------------------- account and orders
def account(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/account."""
    acct = _account(ctx)
    assets = sorted({a for i in venue.symbols.values() for a in (i.base, i.quote)})
    bal = venue.engine.balances(acct)
    if params.get("omitZeroBalances") == "true":
        assets = [a for a in assets if any(bal.get(a, (0, 0)))]
        bal = {a: v for a, v in bal.items() if any(v)}
    key = ctx.key
    assert key is not None
    return wire.account_body(
        bal,
        assets,
        can_trade=key.spot_trading,
        can_withdraw=key.withdrawals,
        update_ms=venue.account_update_ms.get(acct, 0),
        uid=abs(hash(acct)) % 10**9,
    )


def new_order(venue: Any, params: dict[str, str], ctx: Ctx, *, test: bool = False) -> Any:
    """POST /api/v3/order."""
    decoded = wire.decode_order(params, venue.symbols)
    acct = _account(ctx)
    now = venue.clock.now_ms()
    if not test:
        verdict = venue.limiter.check_order(acct, now)
        ctx.headers.update(verdict.headers)
        if verdict.status != 200:
            raise VenueError(verdict.code, verdict.msg, verdict.status, verdict.headers)
    order, fills = venue.place_order(acct, decoded.request, decoded.meta, test=test)
    if test or order is None:
        return {}
    ctx.headers.update(venue.limiter.count_order(acct, now, 0 if fills else 1))
    if venue.faults.should_drop_ack():
        ctx.drop_response = True
    return wire.order_response(
        order, fills, venue.order_meta.get(order.id, {}), decoded.symbol_id, decoded.resp_type, now
    )


def test_order(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """POST /api/v3/order/test."""
    body = new_order(venue, {k: v for k, v in params.items() if k != "computeCommissionRates"}, ctx, test=True)
    if params.get("computeCommissionRates") == "true":
        rates = {"maker": "0.00100000", "taker": "0.00100000"}
        return {
            "standardCommissionForOrder": rates,
            "taxCommissionForOrder": {"maker": "0.00000000", "taker": "0.00000000"},
            "discount": {
                "enabledForAccount": False,
                "enabledForSymbol": False,
                "discountAsset": "BNB",
                "discount": "0.25000000",
            },
        }
    return body


def cancel_order(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """DELETE /api/v3/order."""
    sid = _symbol(venue, params)
    oid, cid = _order_ref(params)
    restriction = replace.parse_enum(params, "cancelRestrictions", replace.RESTRICTIONS)
    order = venue.cancel_order(_account(ctx), sid, order_id=oid, client_id=cid, restriction=restriction)
    return wire.cancel_response(
        order, venue.order_meta.get(order.id, {}), sid, params.get("newClientOrderId"), venue.clock.now_ms()
    )


def cancel_open_orders(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """DELETE /api/v3/openOrders."""
    sid = _symbol(venue, params)
    now = venue.clock.now_ms()
    return [
        wire.cancel_response(o, venue.order_meta.get(o.id, {}), sid, None, now)
        for o in venue.cancel_all(_account(ctx), sid)
    ]


def get_order(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/order."""
    sid = _symbol(venue, params)
    oid, cid = _order_ref(params)
    order = venue.find_order(_account(ctx), sid, order_id=oid, client_id=cid)
    return wire.order_body(order, venue.order_meta.get(order.id, {}), sid)


def open_orders(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/openOrders (``symbol`` optional)."""
    sid = _symbol_opt(venue, params)
    unified = venue.symbols[sid].symbol if sid else None
    orders = venue.engine.open_orders(_account(ctx), unified)
    return [wire.order_body(o, venue.order_meta.get(o.id, {}), venue.by_unified[o.request.symbol].id) for o in orders]


def _time_filter(items: list[Any], params: dict[str, str], ts: Callable[[Any], int]) -> list[Any]:
    start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
    if start is not None and end is not None and end - start > 24 * 3_600_000:
        raise error(-1127, "More than 24 hours between startTime and endTime.")
    return [x for x in items if (start is None or ts(x) >= start) and (end is None or ts(x) <= end)]


def all_orders(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/allOrders."""
    sid = _symbol(venue, params)
    limit = _limit(params, 500, 1000)
    orders = venue.engine.orders(_account(ctx), venue.symbols[sid].symbol)
    oid = parse_int(params, "orderId")
    if oid is not None:
        orders = [o for o in orders if o.id >= oid]
    orders = _time_filter(orders, params, lambda o: o.created_ms)
    orders = orders[:limit] if (oid is not None or params.get("startTime")) else orders[-limit:]
    return [wire.order_body(o, venue.order_meta.get(o.id, {}), sid) for o in orders]


def my_trades(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/myTrades."""
    sid = _symbol(venue, params)
    limit = _limit(params, 500, 1000)
    fills = [venue.public_fill(f) for f in venue.engine.fills(_account(ctx), venue.symbols[sid].symbol)]
    oid = parse_int(params, "orderId")
    if oid is not None:
        fills = [f for f in fills if f.order_id == oid]
    from_id = parse_int(params, "fromId")
    if from_id is not None:
        fills = [f for f in fills if f.trade_id >= from_id]
    fills = _time_filter(fills, params, lambda f: f.ts_ms)
    fills = fills[:limit] if (from_id is not None or params.get("startTime")) else fills[-limit:]
    orders = {i: venue.engine.get_order(_account(ctx), order_id=i) for i in {f.order_id for f in fills}}
    lists = {i: o.list_id for i, o in orders.items() if o is not None}
    return [wire.my_trade(f, sid, f.side.value == "buy", lists.get(f.order_id, -1)) for f in fills]


def order_rate_limit(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/rateLimit/order."""
    h = venue.limiter.order_headers(_account(ctx), venue.clock.now_ms())
    lim = venue.config.limits
    return [
        {
            "rateLimitType": "ORDERS",
            "interval": "SECOND",
            "intervalNum": 10,
            "limit": lim.orders_per_10s,
            "count": int(h["X-MBX-ORDER-COUNT-10S"]),
        },
        {
            "rateLimitType": "ORDERS",
            "interval": "DAY",
            "intervalNum": 1,
            "limit": lim.orders_per_day,
            "count": int(h["X-MBX-ORDER-COUNT-1D"]),
        },
    ]


# ---------------------------------------------------------------------- sapi
def api_restrictions_route(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/account/apiRestrictions."""
    assert ctx.key is not None
    return api_restrictions(ctx.key)


def capital_config(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/capital/config/getall (coins of the listed symbols, with balances)."""
    bal = venue.engine.balances(_account(ctx))
    assets = sorted({a for i in venue.symbols.values() for a in (i.base, i.quote)})
    out = []
    for a in assets:
        free, locked = bal.get(a, (Decimal(0), Decimal(0)))
        nets = [
            {
                "network": n.name,
                "coin": a,
                "name": n.name,
                "isDefault": i == 0,
                "depositEnable": True,
                "withdrawEnable": True,
                "withdrawFee": wire.fmt(n.fee),
                "withdrawMin": wire.fmt(n.withdraw_min),
                "withdrawMax": "100000000",
                "withdrawIntegerMultiple": "0.00000001",
                "minConfirm": 1,
                "unLockConfirm": 0,
                "depositDesc": "",
                "withdrawDesc": "",
                "specialTips": "",
                "busy": False,
                "addressRegex": "^.+$",
                "memoRegex": "",
                "sameAddress": False,
                "estimatedArrivalTime": 1,
                "resetAddressStatus": False,
            }
            for i, n in enumerate(wallet.networks(a))
        ]
        out.append(
            {
                "coin": a,
                "name": a,
                "depositAllEnable": True,
                "withdrawAllEnable": True,
                "trading": True,
                "free": wire.fmt(free),
                "locked": wire.fmt(locked),
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": False,
                "networkList": nets,
            }
        )
    return out


def _network(coin: str, params: dict[str, str]) -> wallet.Network:
    nets = wallet.networks(coin)
    name = params.get("network")
    if not name:
        return nets[0]
    for n in nets:
        if n.name == name:
            return n
    raise error(-1100, f"Illegal characters found in parameter 'network'; {coin} networks: {[n.name for n in nets]}.")


def withdraw_apply(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """POST /sapi/v1/capital/withdraw/apply: really moves funds out of the account.

    ``network`` is honoured (default: the coin's default network); the network's fee is part of
    ``amount`` (the account is debited ``amount``, the address receives ``amount - fee``).
    """
    coin = params.get("coin")
    if not coin:
        raise mandatory("coin")
    address = params.get("address")
    if not address:
        raise mandatory("address")
    amount = parse_decimal(params, "amount", required=True)
    assert amount is not None
    net = _network(coin, params)
    if amount < net.withdraw_min:
        raise error(-4022, f"The withdrawal amount must be at least {wire.fmt(net.withdraw_min)} {coin}.")
    return {"id": venue.withdraw(_account(ctx), coin, amount, address, network=net.name, fee=net.fee)}


def withdraw_history(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/capital/withdraw/history (``coin``, ``status``, ``startTime``/``endTime`` filters).

    Status follows the simulated clock: 4 (processing) for the first minute after the request,
    then 6 (completed) with a ``txId`` and ``completeTime``.
    """
    now = venue.clock.now_ms()
    out = []
    for wid, _, coin, amount, address, ts, network, fee in venue.store.withdrawals(_account(ctx)):
        done = now - ts >= wallet.WITHDRAW_SETTLE_MS
        row = {
            "id": wid,
            "amount": wire.fmt(Decimal(amount)),
            "transactionFee": wire.fmt(Decimal(fee or 0)),
            "coin": coin,
            "status": 6 if done else 4,
            "address": address,
            "txId": wallet.fake_tx_id(wid) if done else "",
            "applyTime": wallet.wallet_time(ts),
            "network": network or wallet.networks(coin)[0].name,
            "transferType": 0,
            "info": "",
            "confirmNo": 1 if done else 0,
            "walletType": 0,
            "txKey": "",
        }
        if done:
            row["completeTime"] = wallet.wallet_time(ts + wallet.WITHDRAW_SETTLE_MS)
        out.append(row)
    return _wallet_filter(out, params)


def _wallet_filter(rows: list[dict[str, Any]], params: dict[str, str]) -> list[Any]:
    """Binance's ``coin`` and ``status`` filters of the wallet histories."""
    coin = params.get("coin")
    st = parse_int(params, "status")
    return [r for r in rows if (not coin or r["coin"] == coin) and (st is None or r["status"] == st)]


def deposit_address(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/capital/deposit/address (a stable made-up address per account, coin and network)."""
    coin = params.get("coin")
    if not coin:
        raise mandatory("coin")
    net = _network(coin, params)
    return {"address": wallet.fake_address(_account(ctx), coin, net.name), "coin": coin, "tag": "", "url": ""}


def deposit_history(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/capital/deposit/hisrec: deposits made through ``POST /_localnet/deposit``."""
    acct = _account(ctx)
    start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
    out = []
    for seq, kind, ts, p in venue.store.commands():
        if kind != "deposit" or p.get("account") != acct:
            continue
        if (start is not None and ts < start) or (end is not None and ts > end):
            continue
        net = wallet.networks(p["asset"])[0]
        out.append(
            {
                "id": str(seq),
                "amount": wire.fmt(Decimal(p["amount"])),
                "coin": p["asset"],
                "network": net.name,
                "status": 1,
                "address": wallet.fake_address(acct, p["asset"], net.name),
                "addressTag": "",
                "txId": wallet.fake_tx_id(f"deposit-{seq}"),
                "insertTime": ts,
                "completeTime": ts,
                "transferType": 0,
                "confirmTimes": "1/1",
                "unlockConfirm": 0,
                "walletType": 0,
            }
        )
    out.reverse()  # newest first, as Binance
    return _wallet_filter(out, params)


def api_trading_status(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/account/apiTradingStatus (never locked: localnet has no trading-rule indicators)."""
    return {
        "data": {
            "isLocked": False,
            "plannedRecoverTime": 0,
            "triggerCondition": {"GCR": 150, "IFER": 150, "UFR": 300},
            "updateTime": 0,
        }
    }


def account_status(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/account/status."""
    return {"data": "Normal"}


def margin_pairs(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/margin/allPairs and margin/isolated/allPairs: none (symbols say isMarginTradingAllowed false)."""
    return []


def commission(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /api/v3/account/commission."""
    spec = venue.symbols[_symbol(venue, params)].spec
    maker, taker = wire.fmt(Decimal(spec.maker_fee)), wire.fmt(Decimal(spec.taker_fee))
    zero = wire.fmt(Decimal(0))
    return {
        "symbol": spec.symbol,
        "standardCommission": {"maker": maker, "taker": taker, "buyer": zero, "seller": zero},
        "specialCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "taxCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "discount": {
            "enabledForAccount": False,
            "enabledForSymbol": False,
            "discountAsset": "BNB",
            "discount": "0.25000000",
        },
    }


def trade_fee(venue: Any, params: dict[str, str], ctx: Ctx) -> Any:
    """GET /sapi/v1/asset/tradeFee."""
    return [
        {
            "symbol": s,
            "makerCommission": str(venue.symbols[s].spec.maker_fee),
            "takerCommission": str(venue.symbols[s].spec.taker_fee),
        }
        for s in _symbols(venue, params)
    ]


ROUTES: dict[tuple[str, str], tuple[Handler, str | None]] = {
    ("GET", "/api/v3/ping"): (ping, None),
    ("GET", "/api/v3/time"): (server_time, None),
    ("GET", "/api/v3/exchangeInfo"): (exchange_info, None),
    ("GET", "/api/v3/depth"): (depth, None),
    ("GET", "/api/v3/trades"): (trades, None),
    ("GET", "/api/v3/historicalTrades"): (trades, "key"),
    ("GET", "/api/v3/aggTrades"): (agg_trades, None),
    ("GET", "/api/v3/klines"): (klines, None),
    ("GET", "/api/v3/uiKlines"): (klines, None),
    ("GET", "/api/v3/avgPrice"): (avg_price, None),
    ("GET", "/api/v3/ticker/24hr"): (ticker_24h, None),
    ("GET", "/api/v3/ticker"): (ticker_rolling, None),
    ("GET", "/api/v3/ticker/price"): (ticker_price, None),
    ("GET", "/api/v3/ticker/bookTicker"): (book_ticker, None),
    ("GET", "/sapi/v1/system/status"): (system_status, None),
    ("GET", "/api/v3/account"): (account, "reading"),
    ("POST", "/api/v3/order"): (new_order, "spot_trading"),
    ("POST", "/api/v3/order/test"): (test_order, "spot_trading"),
    ("DELETE", "/api/v3/order"): (cancel_order, "spot_trading"),
    ("POST", "/api/v3/order/cancelReplace"): (replace.cancel_replace, "spot_trading"),
    ("DELETE", "/api/v3/openOrders"): (cancel_open_orders, "spot_trading"),
    ("GET", "/api/v3/order"): (get_order, "reading"),
    ("GET", "/api/v3/openOrders"): (open_orders, "reading"),
    ("GET", "/api/v3/allOrders"): (all_orders, "reading"),
    ("GET", "/api/v3/myTrades"): (my_trades, "reading"),
    ("GET", "/api/v3/rateLimit/order"): (order_rate_limit, "reading"),
    ("GET", "/sapi/v1/account/apiRestrictions"): (api_restrictions_route, "reading"),
    ("GET", "/sapi/v1/capital/config/getall"): (capital_config, "reading"),
    ("POST", "/sapi/v1/capital/withdraw/apply"): (withdraw_apply, "withdrawals"),
    ("GET", "/sapi/v1/capital/withdraw/history"): (withdraw_history, "reading"),
    ("GET", "/sapi/v1/asset/tradeFee"): (trade_fee, "reading"),
    ("GET", "/api/v3/account/commission"): (commission, "reading"),
    ("GET", "/sapi/v1/account/apiTradingStatus"): (api_trading_status, "reading"),
    ("GET", "/sapi/v1/account/status"): (account_status, "reading"),
    ("GET", "/sapi/v1/capital/deposit/address"): (deposit_address, "reading"),
    ("GET", "/sapi/v1/capital/deposit/hisrec"): (deposit_history, "reading"),
    ("GET", "/sapi/v1/margin/allPairs"): (margin_pairs, "key"),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): (margin_pairs, "reading"),
}
ROUTES.update(orderlists.LIST_ROUTES)  # POST/DELETE/GET orderList..., kit/localnet/orderlists.py
