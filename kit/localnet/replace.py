"""``POST /api/v3/order/cancelReplace``: cancel an order and place a new one in one request.

This is what ccxt's spot ``edit_order`` calls. Binance's rules (rest-api.md "Cancel an Existing
Order and Send a New Order", errors.md -2021/-2022), as implemented here:

- Parameters: everything ``POST /api/v3/order`` reads (decoded by
  :func:`kit.localnet.wire.decode_order`) plus ``cancelReplaceMode`` (``STOP_ON_FAILURE`` or
  ``ALLOW_FAILURE``, mandatory), ``cancelOrderId`` and/or ``cancelOrigClientOrderId`` (one is
  needed; with both, the order found by id must carry that client id),
  ``cancelNewClientOrderId``, ``cancelRestrictions`` (``ONLY_NEW`` / ``ONLY_PARTIALLY_FILLED``)
  and ``orderRateLimitExceededMode`` (``DO_NOTHING`` / ``CANCEL_ONLY``).
- Parameters, symbol filters and the unfilled-order count are checked *before* anything happens:
  such a failure is a plain error (``-1013 Filter failure: ...``, ``-1015``) and the old order
  stays. Only with ``CANCEL_ONLY`` does an exceeded order count still cancel.
- Then, in one synchronous step on the venue's event loop (nothing interleaves), the old order
  is canceled and the new one placed through the same :meth:`Trading.cancel_order` /
  :meth:`Trading.place_order` paths as ``DELETE`` / ``POST /api/v3/order``; so the funds the
  cancel frees are available to the new order, the command log persists both, and the user
  stream gets the old order's ``CANCELED`` report, then the new order's ``NEW`` (and ``TRADE``).
- Engine rejections of the new order (funds, post-only would take, duplicate client id) happen
  after the cancel, which is not undone.
- Answers: both succeeded -> 200 ``{"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
  "cancelResponse": <DELETE order body>, "newOrderResponse": <POST order body>}``. One failed ->
  409 ``{"code": -2021, "msg": "Order cancel-replace partially failed.", "data": {...}}``. The
  cancel failed with ``STOP_ON_FAILURE`` (new order ``NOT_ATTEMPTED``, response null), or both
  failed -> 400 ``-2022 "Order cancel-replace failed."`` with the same ``data``. A failed part's
  response is its ``{"code", "msg"}``. (``CANCEL_ONLY`` over the order limit: 429 with
  ``STOP_ON_FAILURE``.)
- Weight 1; the unfilled-order count grows by 1 (also when the new order was not attempted),
  by 0 if the new order traded at once, as for ``POST order``.
- A lost acknowledgement (``drop_ack_rate``) applies once the new order was accepted.

Examples
--------
>>> err = ReplaceError(-2021, "Order cancel-replace partially failed.", 409, {"cancelResult": "SUCCESS"})
>>> err.body()["data"]["cancelResult"], err.status
('SUCCESS', 409)
>>> parse_enum({"cancelRestrictions": "ONLY_NEW"}, "cancelRestrictions", RESTRICTIONS)
'ONLY_NEW'
"""

from __future__ import annotations

from typing import Any

from kit.localnet import wire
from kit.localnet.wire import VenueError, error, mandatory, parse_int

MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")
RESTRICTIONS = ("ONLY_NEW", "ONLY_PARTIALLY_FILLED")
RATE_MODES = ("DO_NOTHING", "CANCEL_ONLY")
REPLACE_PARAMS = frozenset(
    {
        "cancelReplaceMode",
        "cancelOrderId",
        "cancelOrigClientOrderId",
        "cancelNewClientOrderId",
        "cancelRestrictions",
        "orderRateLimitExceededMode",
    }
)
#: Parameters ``order/cancelReplace`` reads: those of ``POST order`` (but ``order/test``'s) and its own.
ALLOWED = (wire.ORDER_PARAMS - {"computeCommissionRates"}) | REPLACE_PARAMS
PARTIAL = (-2021, "Order cancel-replace partially failed.")
FAILED = (-2022, "Order cancel-replace failed.")


class ReplaceError(VenueError):
    """A -2021 / -2022 answer: ``{"code", "msg", "data": {...}}``."""

    def __init__(self, code: int, msg: str, status: int, data: dict[str, Any]) -> None:
        super().__init__(code, msg, status)
        self.data = data

    def body(self) -> dict[str, Any]:
        """The JSON body, with ``data``."""
        return {"code": self.code, "msg": self.msg, "data": self.data}


def parse_enum(params: dict[str, str], name: str, values: tuple[str, ...], default: str | None = None) -> str | None:
    """An enum parameter: ``default`` if absent; -1145 for a bad ``cancelRestrictions``, else -1100."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw not in values:
        if name == "cancelRestrictions":
            raise error(-1145, "Invalid cancelRestrictions")
        raise error(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{', '.join(values)}'.")
    return raw


def _client_id(params: dict[str, str], name: str) -> str | None:
    value = params.get(name) or None
    if value is not None and not wire._CLIENT_ID.match(value):
        raise error(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{wire._CLIENT_ID_RANGE}'.")
    return value


def cancel_replace(venue: Any, params: dict[str, str], ctx: Any) -> Any:
    """POST /api/v3/order/cancelReplace (see the module docstring)."""
    from kit.engine.filters import check

    mode = params.get("cancelReplaceMode")
    if not mode:
        raise mandatory("cancelReplaceMode")
    parse_enum(params, "cancelReplaceMode", MODES)
    restriction = parse_enum(params, "cancelRestrictions", RESTRICTIONS)
    rate_mode = parse_enum(params, "orderRateLimitExceededMode", RATE_MODES, "DO_NOTHING")
    cancel_oid = parse_int(params, "cancelOrderId")
    cancel_cid = _client_id(params, "cancelOrigClientOrderId")
    if cancel_oid is None and cancel_cid is None:
        raise error(-1102, "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!")
    cancel_new_cid = _client_id(params, "cancelNewClientOrderId")
    decoded = wire.decode_order(params, venue.symbols, allowed=ALLOWED)
    sid, req = decoded.symbol_id, decoded.request
    refusal = check(venue.symbols[sid].market, req, ref_price=venue.engine.last_price(req.symbol))
    if refusal is not None:
        raise wire.reject_error(refusal)
    assert ctx.key is not None
    acct = ctx.key.account
    now = venue.clock.now_ms()
    verdict = venue.limiter.check_order(acct, now)
    ctx.headers.update(verdict.headers)
    over_limit = verdict.status != 200
    if over_limit and rate_mode == "DO_NOTHING":
        raise VenueError(verdict.code, verdict.msg, verdict.status, verdict.headers)

    # -- from here on, one synchronous step: cancel, then place
    data: dict[str, Any] = {}
    try:
        old = venue.cancel_order(acct, sid, order_id=cancel_oid, client_id=cancel_cid, restriction=restriction)
        data["cancelResult"] = "SUCCESS"
        data["cancelResponse"] = wire.cancel_response(
            old, venue.order_meta.get(old.id, {}), sid, cancel_new_cid, venue.clock.now_ms()
        )
    except VenueError as exc:
        data["cancelResult"], data["cancelResponse"] = "FAILURE", exc.body()
    fills: list[Any] = []
    if data["cancelResult"] == "FAILURE" and mode == "STOP_ON_FAILURE":
        data["newOrderResult"], data["newOrderResponse"] = "NOT_ATTEMPTED", None
    elif over_limit:
        data["newOrderResult"] = "FAILURE"
        data["newOrderResponse"] = {"code": verdict.code, "msg": verdict.msg}
    else:
        try:
            order, fills = venue.place_order(acct, req, decoded.meta)
            assert order is not None
            data["newOrderResult"] = "SUCCESS"
            data["newOrderResponse"] = wire.order_response(
                order, fills, venue.order_meta.get(order.id, {}), sid, decoded.resp_type, venue.clock.now_ms()
            )
        except VenueError as exc:
            data["newOrderResult"], data["newOrderResponse"] = "FAILURE", exc.body()
    if not over_limit:
        ctx.headers.update(venue.limiter.count_order(acct, now, 0 if fills else 1))
    if data["newOrderResult"] == "SUCCESS" and venue.faults.should_drop_ack():
        ctx.drop_response = True
    body = {k: data[k] for k in ("cancelResult", "newOrderResult", "cancelResponse", "newOrderResponse")}
    results = (data["cancelResult"], data["newOrderResult"])
    if results == ("SUCCESS", "SUCCESS"):
        return body
    partial = "SUCCESS" in results
    code, msg = PARTIAL if partial else FAILED
    status = 429 if over_limit and mode == "STOP_ON_FAILURE" else 409 if partial else 400
    raise ReplaceError(code, msg, status, body)
