"""Unit tests of the pure parts of the localnet stream side.

Stream-name parsing and the WS-API canonical signing string (the user-data payloads themselves
are built by :mod:`kit.localnet.wire` on the REST side).
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from kit.localnet.streams_market import parse_stream
from kit.localnet.streams_wsapi import canonical_query, sign

SYMBOLS = {"BTCUSDT", "ETHUSDT"}


# ---------------------------------------------------------------- stream names
@pytest.mark.parametrize(
    ("name", "topics"),
    [
        ("btcusdt@kline_1m", [("kline", "BTCUSDT", "1m")]),
        ("btcusdt@kline_1M", [("kline", "BTCUSDT", "1M")]),
        ("ethusdt@miniTicker", [("miniTicker", "ETHUSDT")]),
        ("ethusdt@ticker", [("ticker", "ETHUSDT")]),
        ("btcusdt@trade", [("trade", "BTCUSDT")]),
        ("btcusdt@aggTrade", [("aggTrade", "BTCUSDT")]),
        ("btcusdt@depth", [("depth", "BTCUSDT", "1000ms")]),
        ("btcusdt@depth@100ms", [("depth", "BTCUSDT", "100ms")]),
        ("btcusdt@depth@1000ms", [("depth", "BTCUSDT", "1000ms")]),
        ("btcusdt@bookTicker", [("bookTicker", "BTCUSDT")]),
        ("!miniTicker@arr", [("miniTicker", "BTCUSDT"), ("miniTicker", "ETHUSDT")]),
        ("!ticker@arr", [("ticker", "BTCUSDT"), ("ticker", "ETHUSDT")]),
    ],
)
def test_parse_stream_topics(name: str, topics: list[tuple[str, ...]]) -> None:
    spec = parse_stream(name, SYMBOLS)
    assert spec is not None and spec.name == name
    assert spec.topics == topics


def test_parse_stream_modes() -> None:
    arr = parse_stream("!miniTicker@arr", SYMBOLS)
    assert arr is not None and arr.mode == "array"
    partial = parse_stream("btcusdt@depth20@100ms", SYMBOLS)
    assert partial is not None
    assert (partial.mode, partial.levels, partial.symbol) == ("partial", 20, "BTCUSDT")
    assert parse_stream("btcusdt@trade", SYMBOLS).mode == "raw"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name",
    [
        "xrpusdt@trade",
        "btcusdt@kline_7m",
        "btcusdt@kline_",
        "btcusdt@depth@10ms",
        "btcusdt@depth7",
        "btcusdt",
        "BTCUSDT@trade",
        "btcusdt@foo",
        "",
        42,
        None,
        "!ticker@arr@x",
    ],
)
def test_parse_stream_rejects(name: object) -> None:
    assert parse_stream(name, SYMBOLS) is None


# ---------------------------------------------------------------- WS-API signing
def test_canonical_query_sorted_and_unencoded() -> None:
    params = {
        "timestamp": 1700000000000,
        "recvWindow": 10000,
        "apiKey": "aB3",
        "signature": "zz",
        "note": "a b/c=d",
        "flag": True,
    }
    assert canonical_query(params) == ("apiKey=aB3&flag=true&note=a b/c=d&recvWindow=10000&timestamp=1700000000000")


def test_sign_matches_ccxt_sign_params() -> None:
    import ccxt.pro

    ex = ccxt.pro.binance({"apiKey": "Key123", "secret": "s3cr3t", "options": {"recvWindow": 7000}})
    ex.nonce = lambda: 1_700_000_000_123
    signed = ex.sign_params({})
    assert signed["signature"] == sign("s3cr3t", signed)
    raw = "apiKey=Key123&recvWindow=7000&timestamp=1700000000123"
    assert signed["signature"] == hmac.new(b"s3cr3t", raw.encode(), hashlib.sha256).hexdigest()
    assert sign("other", signed) != signed["signature"]
