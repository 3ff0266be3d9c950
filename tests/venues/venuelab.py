"""A small signed-request server per venue, for testing the preflight through the real ccxt classes.

One aiohttp app on 127.0.0.1 (ephemeral port) answers every path. Before answering it checks the
venue's own authentication the way the venue documents it: the key header, the timestamp or nonce,
the passphrase (KuCoin's signed per key version 2), and the signature recomputed with the test
secret (Coinbase: an ES256 JWT checked with the key's public half). A request that fails the
check gets the venue's authentication error, so a wrong credential wiring fails the test.
ccxt is pointed at it by overriding ``urls['api']`` (nothing of ccxt is mocked).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from kit.session.loop import BackgroundLoop
from kit.transport.ccxt_errors import ccxt_errors

KEY = "test-key-0123456789abcdef"
SECRET = "test-secret-0123456789abcdef0123456789"
PASSPHRASE = "test-passphrase-0123"
KRAKEN_SECRET = base64.b64encode(b"kraken-test-secret-bytes-0123456789").decode()


def _b64_hmac(secret: str | bytes, text: str | bytes, algo: Any = hashlib.sha256) -> str:
    s = secret.encode() if isinstance(secret, str) else secret
    t = text.encode() if isinstance(text, str) else text
    return base64.b64encode(hmac.new(s, t, algo).digest()).decode()


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: str
    verdict: str  # "ok" or why authentication failed


@dataclass
class Venue:
    """What the server expects of one venue and how it answers."""

    exchange_id: str
    api_keys: tuple[str, ...]  # the urls['api'] entries to point at the server
    verify: Callable[[web.Request, str, Venue], str]
    auth_error: Callable[[str], tuple[int, Any]]
    secret: str = SECRET
    password: str | None = None
    api_key: str = KEY
    public_pem: bytes = b""
    answer: Any = None
    status: int = 200
    seen: list[Seen] = field(default_factory=list)
    public: dict[str, Any] = field(default_factory=dict)  # unsigned paths -> answer (markets, time)


# ---------------------------------------------------------------- per-venue signature checks


def _fresh_ms(ms: str, window_ms: int = 30_000) -> bool:
    return ms.isdigit() and abs(int(ms) - time.time() * 1000) <= window_ms


def _verify_okx(req: web.Request, body: str, v: Venue) -> str:
    h = req.headers
    if h.get("OK-ACCESS-KEY") != v.api_key:
        return "wrong OK-ACCESS-KEY"
    if h.get("OK-ACCESS-PASSPHRASE") != v.password:
        return "wrong OK-ACCESS-PASSPHRASE"
    ts = h.get("OK-ACCESS-TIMESTAMP", "")
    try:
        t = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "OK-ACCESS-TIMESTAMP is not ISO-8601"
    if abs(t - time.time()) > 30:
        return "OK-ACCESS-TIMESTAMP outside 30 s"
    want = _b64_hmac(v.secret, ts + req.method + req.raw_path + body)
    return "ok" if hmac.compare_digest(h.get("OK-ACCESS-SIGN", ""), want) else "bad OK-ACCESS-SIGN"


def _verify_bybit(req: web.Request, body: str, v: Venue) -> str:
    h = req.headers
    if h.get("X-BAPI-API-KEY") != v.api_key:
        return "wrong X-BAPI-API-KEY"
    ts, recv = h.get("X-BAPI-TIMESTAMP", ""), h.get("X-BAPI-RECV-WINDOW", "")
    if not recv.isdigit():
        return "no X-BAPI-RECV-WINDOW"
    if not _fresh_ms(ts, int(recv)):
        return "X-BAPI-TIMESTAMP outside the recv window"
    payload = body if req.method == "POST" else req.query_string
    want = hmac.new(v.secret.encode(), (ts + v.api_key + recv + payload).encode(), hashlib.sha256).hexdigest()
    return "ok" if hmac.compare_digest(h.get("X-BAPI-SIGN", ""), want) else "bad X-BAPI-SIGN"


def _verify_kucoin(req: web.Request, body: str, v: Venue) -> str:
    h = req.headers
    if h.get("KC-API-KEY") != v.api_key:
        return "wrong KC-API-KEY"
    if h.get("KC-API-KEY-VERSION") != "2":
        return "KC-API-KEY-VERSION is not 2"
    if h.get("KC-API-PASSPHRASE") != _b64_hmac(v.secret, v.password or ""):  # version 2: the passphrase signed
        return "wrong KC-API-PASSPHRASE"
    ts = h.get("KC-API-TIMESTAMP", "")
    if not _fresh_ms(ts):
        return "KC-API-TIMESTAMP outside 30 s"
    want = _b64_hmac(v.secret, ts + req.method + req.raw_path + body)
    return "ok" if hmac.compare_digest(h.get("KC-API-SIGN", ""), want) else "bad KC-API-SIGN"


def _verify_bitget(req: web.Request, body: str, v: Venue) -> str:
    h = req.headers
    if h.get("ACCESS-KEY") != v.api_key:
        return "wrong ACCESS-KEY"
    if h.get("ACCESS-PASSPHRASE") != v.password:
        return "wrong ACCESS-PASSPHRASE"
    ts = h.get("ACCESS-TIMESTAMP", "")
    if not _fresh_ms(ts):
        return "ACCESS-TIMESTAMP outside 30 s"
    want = _b64_hmac(v.secret, ts + req.method + req.raw_path + body)
    return "ok" if hmac.compare_digest(h.get("ACCESS-SIGN", ""), want) else "bad ACCESS-SIGN"


def _verify_kraken(req: web.Request, body: str, v: Venue) -> str:
    h = req.headers
    if h.get("API-Key") != v.api_key:
        return "wrong API-Key"
    form = dict(p.split("=", 1) for p in body.split("&") if "=" in p)
    nonce = form.get("nonce", "")
    if not nonce.isdigit():
        return "no nonce"
    digest = hashlib.sha256((nonce + body).encode()).digest()
    want = _b64_hmac(base64.b64decode(v.secret), req.path.encode() + digest, hashlib.sha512)
    return "ok" if hmac.compare_digest(h.get("API-Sign", ""), want) else "bad API-Sign"


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _verify_coinbase(req: web.Request, body: str, v: Venue) -> str:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    auth = req.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return "no bearer token"
    try:
        head_b64, claims_b64, sig_b64 = auth.removeprefix("Bearer ").split(".")
        head, claims, sig = json.loads(_b64url(head_b64)), json.loads(_b64url(claims_b64)), _b64url(sig_b64)
    except ValueError:
        return "malformed JWT"
    if head.get("alg") != "ES256" or head.get("kid") != v.api_key:
        return "JWT header is not ES256 with kid = the key name"
    if claims.get("sub") != v.api_key or not claims.get("nbf", 0) <= time.time() <= claims.get("exp", 0):
        return "JWT sub/nbf/exp wrong"
    # ccxt strips only 'https://' from the uri; this server is plain http on 127.0.0.1.
    uri = str(claims.get("uri", "")).replace("http://", "", 1)
    if uri != f"{req.method} {req.host}{req.path}":
        return f"JWT uri {claims.get('uri')!r} is not this request"
    key = serialization.load_pem_public_key(v.public_pem)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        key.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "bad JWT signature"
    return "ok"


def _coinbase_keys() -> tuple[str, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, public


def _error(status: int, payload: Callable[[str], Any]) -> Callable[[str], tuple[int, Any]]:
    return lambda why: (status, payload(why))


def make_venue(exchange_id: str) -> Venue:
    """The expectations of one venue, with its documented authentication error."""
    if exchange_id == "okx":
        err = _error(401, lambda why: {"code": "50113", "msg": why, "data": []})
        return Venue("okx", ("rest",), _verify_okx, err, password=PASSPHRASE)
    if exchange_id == "bybit":
        err = _error(200, lambda why: {"retCode": 10004, "retMsg": why, "result": {}})
        return Venue("bybit", ("public", "private", "spot", "v2", "futures"), _verify_bybit, err)
    if exchange_id == "kucoin":
        err = _error(401, lambda why: {"code": "400005", "msg": why})
        return Venue("kucoin", ("public", "private"), _verify_kucoin, err, password=PASSPHRASE)
    if exchange_id == "bitget":
        err = _error(400, lambda why: {"code": "40009", "msg": why, "data": None})
        return Venue("bitget", ("spot", "common", "user"), _verify_bitget, err, password=PASSPHRASE)
    if exchange_id == "kraken":
        err = _error(200, lambda why: {"error": ["EAPI:Invalid signature"]})
        return Venue("kraken", ("public", "private"), _verify_kraken, err, secret=KRAKEN_SECRET)
    if exchange_id == "coinbase":
        pem, public = _coinbase_keys()
        err = _error(401, lambda why: "Unauthorized\n")  # Advanced Trade answers a bad JWT in plain text
        return Venue("coinbase", ("rest",), _verify_coinbase, err, secret=pem,
                     api_key="organizations/org-1/apiKeys/key-1", public_pem=public)  # fmt: skip
    raise ValueError(exchange_id)


class VenueServer:
    """The server and a real ccxt async client of the venue pointed at it."""

    def __init__(self, venue: Venue, loop: BackgroundLoop) -> None:
        self.venue, self.loop = venue, loop
        self.url = loop.run(self._start(), timeout=30)
        import ccxt.async_support as ccxt_async

        config: dict[str, Any] = {"apiKey": venue.api_key, "secret": venue.secret, "enableRateLimit": False}
        if venue.password is not None:
            config["password"] = venue.password
        self.client = getattr(ccxt_async, venue.exchange_id)(config)
        for name in venue.api_keys:
            self.client.urls["api"][name] = self.url

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    async def _handle(self, req: web.Request) -> web.Response:
        body = await req.text()
        v = self.venue
        if req.path in v.public:
            answer = v.public[req.path]
            return web.json_response(answer() if callable(answer) else answer)
        verdict = v.verify(req, body, v)
        v.seen.append(Seen(req.method, req.raw_path, dict(req.headers), body, verdict))
        if verdict != "ok":
            status, payload = v.auth_error(verdict)
            if isinstance(payload, str):
                return web.Response(text=payload, status=status, content_type="text/plain")
            return web.json_response(payload, status=status)
        if isinstance(v.answer, str):
            return web.Response(text=v.answer, status=v.status, content_type="application/json")
        return web.json_response(v.answer, status=v.status)

    def fetch(self, spec: Any) -> Any:
        """What the Session's request path does: call the ccxt implicit method, map its errors to the kit's."""
        with ccxt_errors("preflight", exchange=self.client):
            return self.loop.run(getattr(self.client, spec.method)(), timeout=30)

    def close(self) -> None:
        # bounded: a teardown that waits for ever outlives pytest-timeout's one-shot timer
        self.loop.run(self.client.close(), timeout=30)
        self.loop.run(self._runner.cleanup(), timeout=90)  # aiohttp waits up to 60 s for open requests


@contextmanager
def serve(exchange_id: str) -> Iterator[VenueServer]:
    """A venue server and its ccxt client for one test."""
    loop = BackgroundLoop("venuelab")
    server = VenueServer(make_venue(exchange_id), loop)
    try:
        yield server
    finally:
        try:
            server.close()
        finally:
            loop.close()


def kraken_public() -> dict[str, Any]:
    """Kraken's public answers a Session needs to connect (one market, its assets, the server time)."""
    pair = {"altname": "XBTUSD", "wsname": "XBT/USD", "aclass_base": "currency", "base": "XXBT",
            "aclass_quote": "currency", "quote": "ZUSD", "lot": "unit", "cost_decimals": 5, "pair_decimals": 1,
            "lot_decimals": 8, "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [], "fees": [[0, 0.26]],
            "fees_maker": [[0, 0.16]], "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
            "ordermin": "0.0001", "costmin": "0.5", "tick_size": "0.1", "status": "online"}  # fmt: skip
    asset = {"aclass": "currency", "decimals": 10, "display_decimals": 5, "collateral_value": 1, "status": "enabled"}

    def now() -> dict[str, Any]:
        t = time.time()
        # Kraken's time has 1 s resolution; rounded here so the sub-second phase never reads as a skewed clock.
        return {"error": [], "result": {"unixtime": round(t), "rfc1123": time.strftime("%a, %d %b %y %H:%M:%S +0000")}}

    return {
        "/0/public/AssetPairs": {"error": [], "result": {"XXBTZUSD": pair}},
        "/0/public/Assets": {
            "error": [],
            "result": {"XXBT": {**asset, "altname": "XBT"}, "ZUSD": {**asset, "altname": "USD", "decimals": 4}},
        },
        "/0/public/Time": now,
    }
