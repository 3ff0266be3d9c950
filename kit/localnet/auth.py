"""API keys and request authentication, as pure checks (no I/O, no clock reads).

Binance rules implemented here (rest-api.md, "SIGNED endpoint security"):

- The signature covers the request's **raw** parameter text: the query string for GET/DELETE,
  the form body for POST/PUT (both concatenated if both are present), without the ``signature``
  parameter itself ("totalParams"). Re-encoding parsed parameters would break on
  ``%20``/``%2F``/UTF-8 (wire spec 2.1). A parameter appended after ``&signature=`` is part of
  totalParams but not of what the client signed, so the signature does not verify: -1022, as on
  Binance (never applied unsigned).
- HMAC-SHA256 signatures are lowercase hex; Ed25519 signatures are base64 of the raw signature.
- ``timestamp`` is accepted if ``timestamp < server_time + 1000`` and
  ``server_time - timestamp <= recvWindow``; ``recvWindow`` defaults to 5000 and may not
  exceed 60000.

Secrets live in :class:`Secret`, whose ``repr``/``str`` never show the value.

Examples
--------
>>> import hashlib, hmac
>>> key = new_api_key("t", "main", spot_trading=True, created_ms=0)
>>> payload = "symbol=BTCUSDT&timestamp=1000"
>>> sig = hmac.new(key.secret.reveal().encode(), payload.encode(), hashlib.sha256).hexdigest()
>>> split_signature(payload + "&signature=" + sig) == (payload, sig)
True
>>> verify_signature(key, payload, sig)
True
>>> repr(key.secret)
"Secret('***')"
>>> check_timestamp(1000, None, server_ms=1500)
>>> check_timestamp(1000, 100, server_ms=1500)[0]
-1021
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets as _secrets
from dataclasses import dataclass, field
from urllib.parse import unquote

AuthError = tuple[int, str, int]  # (binance code, msg, http status)

INVALID_KEY: AuthError = (-2015, "Invalid API-key, IP, or permissions for action.", 401)
BAD_KEY_FORMAT: AuthError = (-2014, "API-key format invalid.", 401)
BAD_SIGNATURE: AuthError = (-1022, "Signature for this request is not valid.", 400)
TS_OUTSIDE: AuthError = (-1021, "Timestamp for this request is outside of the recvWindow.", 400)
TS_AHEAD: AuthError = (-1021, "Timestamp for this request was 1000ms ahead of the server's time.", 400)
BAD_RECV_WINDOW: AuthError = (-1131, "recvWindow must be less than 60000", 400)
DEFAULT_RECV_WINDOW = 5000


class Secret:
    """A string that never shows itself in ``repr``, ``str``, f-strings or logs.

    Call :meth:`reveal` at the single point where the value is needed (signing, the keys file).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(("Secret", fingerprint(self._value)))


def fingerprint(api_key: str) -> str:
    """Short stable hash of a key for logs (never the key itself).

    >>> fingerprint("abc")
    'ba7816bf'
    """
    return hashlib.sha256(api_key.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class ApiKey:
    """One API key of one account, with Binance-style permissions."""

    name: str
    api_key: str = field(repr=False)
    secret: Secret = field(repr=False)
    account: str
    reading: bool = True
    spot_trading: bool = False
    withdrawals: bool = False
    ip_allowlist: tuple[str, ...] = ()
    created_ms: int = 0
    kind: str = "hmac"  # "hmac" or "ed25519"
    public_key: bytes = field(default=b"", repr=False)  # ed25519 raw public key

    @property
    def fingerprint(self) -> str:
        """Short hash of the api key, safe to log."""
        return fingerprint(self.api_key)

    def ip_allowed(self, ip: str) -> bool:
        """True if the key has no allowlist or ``ip`` is in it (addresses or CIDR blocks)."""
        if not self.ip_allowlist:
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        for entry in self.ip_allowlist:
            try:
                if addr in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False


def new_api_key(
    name: str,
    account: str,
    *,
    reading: bool = True,
    spot_trading: bool = False,
    withdrawals: bool = False,
    ip_allowlist: tuple[str, ...] = (),
    created_ms: int,
    kind: str = "hmac",
) -> ApiKey:
    """Generate a random key pair (64 alphanumeric characters each, like Binance).

    For ``kind="ed25519"`` the secret handed to the client is a PKCS#8 PEM private key (what
    ccxt expects) and the server keeps the public key.
    """
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    api_key = "".join(_secrets.choice(alphabet) for _ in range(64))
    public = b""
    if kind == "ed25519":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        private = Ed25519PrivateKey.generate()
        secret = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        secret = "".join(_secrets.choice(alphabet) for _ in range(64))
    return ApiKey(
        name,
        api_key,
        Secret(secret),
        account,
        reading,
        spot_trading,
        withdrawals,
        tuple(ip_allowlist),
        created_ms,
        kind,
        public,
    )


def split_signature(raw: str) -> tuple[str, str | None]:
    """Split raw parameter text into (the text the signature must cover, signature or None).

    The covered text is every parameter but ``signature`` (Binance's totalParams), in the order
    sent: the text before ``&signature=`` joined with whatever follows the signature value. A
    client that appends a parameter after the signature did not sign it, so the signature will
    not verify over this text (-1022), exactly as on Binance.

    >>> split_signature("a=1&b=2&signature=ff")
    ('a=1&b=2', 'ff')
    >>> split_signature("a=1&signature=ff&recvWindow=60000")
    ('a=1&recvWindow=60000', 'ff')
    """
    if raw.startswith("signature="):
        value, _, rest = raw[len("signature=") :].partition("&")
        return rest, unquote(value)
    idx = raw.find("&signature=")
    if idx < 0:
        return raw, None
    value, sep, rest = raw[idx + len("&signature=") :].partition("&")
    return raw[:idx] + (sep + rest if rest else ""), unquote(value)


def verify_signature(key: ApiKey, payload: str, signature: str) -> bool:
    """Check ``signature`` over ``payload`` with the key's secret (HMAC) or public key (Ed25519)."""
    if key.kind == "ed25519":
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            raw_sig = base64.b64decode(signature, validate=True)
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw_sig, payload.encode())
        except (InvalidSignature, ValueError):
            return False
        return True
    expected = hmac.new(key.secret.reveal().encode(), payload.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.lower())


def check_timestamp(
    timestamp: int, recv_window: int | None, *, server_ms: int, max_recv_window: int = 60_000
) -> AuthError | None:
    """Binance's timing rule; ``None`` if the request is in time, else the error."""
    window = DEFAULT_RECV_WINDOW if recv_window is None else recv_window
    if window > max_recv_window or window <= 0:
        return BAD_RECV_WINDOW
    if timestamp >= server_ms + 1000:
        return TS_AHEAD
    if server_ms - timestamp > window:
        return TS_OUTSIDE
    return None


def has_permission(key: ApiKey, permission: str) -> bool:
    """True if ``key`` grants ``permission`` (``"reading"``, ``"spot_trading"``, ``"withdrawals"``)."""
    if permission == "none":
        return True
    return bool(getattr(key, permission))


def api_restrictions(key: ApiKey) -> dict[str, object]:
    """``GET /sapi/v1/account/apiRestrictions`` body for ``key`` (Binance field names)."""
    return {
        "ipRestrict": bool(key.ip_allowlist),
        "createTime": key.created_ms,
        "enableInternalTransfer": False,
        "enableFutures": False,
        "enablePortfolioMarginTrading": False,
        "enableVanillaOptions": False,
        "permitsUniversalTransfer": False,
        "enableReading": key.reading,
        "enableSpotAndMarginTrading": key.spot_trading,
        "enableWithdrawals": key.withdrawals,
        "enableMargin": False,
        "enableFixApiTrade": False,
        "enableFixReadOnly": False,
    }
