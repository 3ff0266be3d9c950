"""localnet's own holes (#12, end): unsigned parameters, orders lost on disconnect, cross-site admin posts.

Binance signs ``totalParams`` (the query string concatenated with the body) without the ``signature``
parameter itself: a parameter appended after ``&signature=`` is not covered by the signature, so
Binance answers -1022 "Signature for this request is not valid." localnet used to apply it unsigned.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import requests

from kit.localnet.server import Localnet


def _signed(net: Localnet, query: str) -> tuple[str, dict[str, str]]:
    api_key, secret = net.credentials("trader")
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}", {"X-MBX-APIKEY": api_key}


def _order_query(cid: str, *, ts_ms: int | None = None) -> str:
    ts = ts_ms if ts_ms is not None else int(time.time() * 1000)
    return (
        f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=30000"
        f"&newClientOrderId={cid}&timestamp={ts}"
    )


BAD_SIGNATURE = {"code": -1022, "msg": "Signature for this request is not valid."}
DUPLICATE = {"code": -1101, "msg": "Duplicate values for a parameter detected."}


@pytest.mark.parametrize(
    ("tail", "answer"),
    [
        ("&icebergQty=0.0005", BAD_SIGNATURE),
        ("&recvWindow=60000", BAD_SIGNATURE),
        ("&x=1", BAD_SIGNATURE),
        ("&newClientOrderId=evil-1", DUPLICATE),  # a second value of a signed parameter: refused before the signature
        ("&timestamp=1", DUPLICATE),
    ],
)
def test_a_parameter_after_the_signature_is_refused_like_binance(
    net: Localnet, tail: str, answer: dict[str, Any]
) -> None:
    signed, headers = _signed(net, _order_query(f"tail-{sum(map(ord, tail))}"))
    r = requests.post(f"{net.url}/api/v3/order", data=signed + tail, headers=headers, timeout=10)
    assert r.status_code == 400 and r.json() == answer
    r = requests.post(f"{net.url}/api/v3/order", data=signed, headers=headers, timeout=10)  # the same, untampered
    assert r.status_code == 200, r.text


def test_a_30s_old_request_cannot_be_revived_by_an_appended_recv_window(net: Localnet) -> None:
    old = int(time.time() * 1000) - 30_000
    signed, headers = _signed(net, _order_query("old-1", ts_ms=old))
    r = requests.post(f"{net.url}/api/v3/order", data=signed + "&recvWindow=60000", headers=headers, timeout=10)
    assert r.json()["code"] == -1022
    r = requests.post(f"{net.url}/api/v3/order", data=signed, headers=headers, timeout=10)
    assert r.json()["code"] == -1021  # as sent: outside the default 5000 ms window


@pytest.mark.slow  # waits out injected latency (about 2 s)
def test_an_order_that_arrived_whole_executes_although_the_client_left_during_latency(
    make_localnet: Any, tmp_path: Any
) -> None:
    with make_localnet(state_dir=tmp_path) as net:
        net.set_faults(latency_ms=800)
        signed, headers = _signed(net, _order_query("gone-1") + "&recvWindow=10000")
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(f"{net.url}/api/v3/order", data=signed, headers=headers, timeout=0.2)
        time.sleep(1.5)
        net.set_faults(latency_ms=0)
        order = net.client("trader", enableRateLimit=False).fetch_order(
            None, "BTC/USDT", {"origClientOrderId": "gone-1"}
        )
        assert order["clientOrderId"] == "gone-1" and order["status"] == "open"
        rows = [json.loads(x) for x in (tmp_path / "requests.log").read_text().splitlines()]
        (row,) = [x for x in rows if x["path"] == "/api/v3/order" and x["method"] == "POST"]
        assert row["status"] == 200 and "newClientOrderId=gone-1" in row["params"]  # logged as what happened


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_admin_posts_accept_json_only(net: Localnet, content_type: str | None) -> None:
    before = net.call(lambda v: v.clock.now_ms())
    body = json.dumps({"ms": 60_000})
    headers = {"Content-Type": content_type} if content_type else {}
    r = requests.post(f"{net.url}/_localnet/clock/step", data=body.encode(), headers=headers, timeout=10)
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    assert net.call(lambda v: v.clock.now_ms()) == before  # nothing happened
    r = requests.post(f"{net.url}/_localnet/clock/step", json={"ms": 60_000}, timeout=10)
    assert r.status_code == 200 and r.json()["now_ms"] == before + 60_000


def test_the_streams_disconnect_admin_post_accepts_json_only(net: Localnet) -> None:
    r = requests.post(f"{net.url}/_localnet/streams/disconnect?kind=market", data=b"x", timeout=10,
                      headers={"Content-Type": "text/plain"})  # fmt: skip
    assert r.status_code == 415
    r = requests.post(f"{net.url}/_localnet/streams/disconnect?kind=market", json={}, timeout=10)
    assert r.status_code == 200 and r.json()["disconnected"] >= 0
