"""The one redactor: which names carry a credential, which forms a secret takes, and how text is masked.

Every output of the kit goes through here: ``repr`` of credentials (:mod:`kit.safety.secrets`),
log records (:class:`kit.safety.secrets.RedactingFilter`), the request logs of the kit
(:mod:`kit.transport.logs`) and of localnet (:mod:`kit.localnet.reqlog`), journal rows
(:mod:`kit.journal.journal`), mapped ccxt errors (:mod:`kit.transport.ccxt_errors`), and what the
Session and the report runner say about their arguments. It imports nothing from ``kit`` and
nothing outside the standard library, so no output path can lose it to a failed import.

What is masked, in any text:

- **Live secret values.** Every value registered with :func:`register` (each
  :class:`kit.safety.secrets.Secret` registers itself) while its holder lives, in every
  :data:`ENCODINGS` form: plain, URL-encoded (``%2B`` and ``+`` for space), base64 (standard and
  URL-safe, padded or not), hex (lower and upper case) and JSON-escaped.
- **Credential fields.** ``name=value`` (query strings, form bodies, log text), ``"name": "value"``
  (JSON, Python reprs) and ``Name: value`` (HTTP headers) whenever :func:`is_credential_name` says the
  name carries a credential; ``Authorization: Bearer ...`` as a whole.
- **URL passwords** (``https://user:***@host``) and **PEM private keys** (the whole block).

:func:`redact_url` also drops credential query parameters entirely (a log line keeps the URL's
shape without ``signature=`` or ``apiKey=``); the ``timestamp`` stays, it explains clock errors.

:func:`looks_like_secret` decides whether an argument a user passed may be repeated in a message
(see its docstring for the rule).

Examples
--------
>>> redact_text("GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=9f0a1b")
'GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=***'
>>> redact_url("https://u:pw@api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=9f0a1b")
'https://u:***@api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1'
>>> holder = object.__new__(type("Holder", (), {}))
>>> register(holder, "Zq7RtY2uIo9pAs4dFg6hJk")
>>> redact_text("key Zq7RtY2uIo9pAs4dFg6hJk, b64 WnE3UnRZMnVJbzlwQXM0ZEZnNmhKaw==")
'key ***, b64 ***'
>>> looks_like_secret("BTC/USDT"), looks_like_secret("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A")
(False, True)
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

__all__ = [
    "CREDENTIAL_NAMES",
    "CREDENTIAL_NAME_PARTS",
    "ENCODINGS",
    "MASK",
    "MIN_VALUE_LEN",
    "SHORT_KEY_LEN",
    "encoded_forms",
    "exception_chain",
    "holds_live_secret",
    "is_credential_name",
    "looks_like_secret",
    "register",
    "redact_query",
    "redact_text",
    "redact_url",
    "shown",
]

#: What a masked value becomes.
MASK = "***"

#: Values shorter than this are not registered: masking every "abc" everywhere would make logs
#: useless, and no exchange issues keys or secrets that short (pass them to :func:`redact_text`).
MIN_VALUE_LEN = 8

#: Names that carry a credential as a whole (compared lower-cased, without ``_``, ``-``, ``.``).
CREDENTIAL_NAMES = frozenset(
    {"key", "sign", "apisign", "auth", "authorization", "pass", "pwd", "token", "bearer", "xmbxapikey"}
)
#: Any name containing one of these carries a credential (``api_secret``, ``X-MBX-APIKEY``,
#: ``listenKey``: it opens the account's private stream; ``signature``: derived from the secret).
CREDENTIAL_NAME_PARTS = (
    "secret", "password", "passphrase", "passwd", "privatekey", "signature", "apikey", "listenkey",
    "accesstoken", "authtoken", "refreshtoken", "sessiontoken", "token", "credential",
)  # fmt: skip


def _b64(v: bytes) -> list[str]:
    std, url = base64.b64encode(v).decode(), base64.urlsafe_b64encode(v).decode()
    return [std, std.rstrip("="), url, url.rstrip("=")]


#: The forms a secret value takes on the way out, each ``str -> [forms]``: what :func:`redact_text` masks.
ENCODINGS: dict[str, Callable[[str], list[str]]] = {
    "plain": lambda v: [v],
    "url": lambda v: [quote(v, safe=""), quote_plus(v), quote(v)],
    "base64": lambda v: _b64(v.encode()),
    "hex": lambda v: [v.encode().hex(), v.encode().hex().upper()],
    "json": lambda v: [json.dumps(v)[1:-1]],
}


def encoded_forms(value: str) -> list[str]:
    """Every :data:`ENCODINGS` form of ``value``, longest first, without repeats.

    >>> [f in encoded_forms("a+b/c=12") for f in ("a+b/c=12", "a%2Bb%2Fc%3D12", "YStiL2M9MTI=", "612b622f633d3132")]
    [True, True, True, True]
    """
    forms = {f for enc in ENCODINGS.values() for f in enc(value) if f}
    return sorted(forms, key=lambda f: (-len(f), f))


# ---------------------------------------------------------------- live values

_LOCK = threading.Lock()
_LIVE: dict[int, list[str]] = {}  # id of a holder -> the encoded forms of its value
_SORTED: list[str] | None = None  # every live form, longest first (rebuilt after a change)


def register(holder: object, value: str) -> None:
    """Mask ``value`` (in every encoding) in all text, for as long as ``holder`` lives.

    Values shorter than :data:`MIN_VALUE_LEN` are not registered. Two holders of one value keep it
    registered until both are gone.
    """
    if not isinstance(value, str) or len(value) < MIN_VALUE_LEN:
        return
    global _SORTED
    key = id(holder)
    forms = encoded_forms(value)
    with _LOCK:
        _LIVE[key] = forms
        _SORTED = None
    weakref.finalize(holder, _forget, key)


def _forget(key: int) -> None:
    global _SORTED
    with _LOCK:
        _LIVE.pop(key, None)
        _SORTED = None


def holds_live_secret(text: object) -> bool:
    """True if ``text`` holds a registered live secret, in any of its encodings."""
    return isinstance(text, str) and any(form in text for form in _live_forms(()))


def _live_forms(extra: Iterable[str]) -> list[str]:
    global _SORTED
    with _LOCK:
        if _SORTED is None:
            _SORTED = sorted({f for fs in _LIVE.values() for f in fs}, key=len, reverse=True)
        live = _SORTED
    more = {f for value in extra if isinstance(value, str) and value for f in encoded_forms(value)}
    if not more:
        return live
    # Short encoded forms of short extra values would mask digits everywhere: keep 4+ characters.
    return sorted({*live, *(f for f in more if len(f) >= 4)}, key=len, reverse=True)


# ---------------------------------------------------------------- names


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def is_credential_name(name: str) -> bool:
    """True if a parameter, field or header called ``name`` carries a credential.

    A name is a credential's when, lower-cased and without separators, it is one of
    :data:`CREDENTIAL_NAMES` or contains one of :data:`CREDENTIAL_NAME_PARTS`; or when it is
    dash-separated like an HTTP header and its last part is one of :data:`CREDENTIAL_NAMES`
    (venue headers: ``OK-ACCESS-KEY``, ``OK-ACCESS-SIGN``, ``X-BAPI-SIGN``, ``CB-ACCESS-KEY``).
    ``alert_key`` or ``cache_key`` (underscores) are not.

    Examples
    --------
    >>> [is_credential_name(n) for n in ("apiKey", "X-MBX-APIKEY", "listenKey", "sign", "OK-ACCESS-KEY", "X-BAPI-SIGN")]
    [True, True, True, True, True, True]
    >>> [is_credential_name(n) for n in ("symbol", "key_age_days", "alert_key", "design", "Content-Type", "X-Key-Id")]
    [False, False, False, False, False, False]
    """
    return _is_credential_name(str(name))


@functools.lru_cache(maxsize=4096)
def _is_credential_name(text: str) -> bool:
    norm = _norm(text)
    if norm in CREDENTIAL_NAMES or any(part in norm for part in CREDENTIAL_NAME_PARTS):
        return True
    return "-" in text and _norm(text.rsplit("-", 1)[1]) in CREDENTIAL_NAMES


# ---------------------------------------------------------------- text

_PEM = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# name=value: query strings, form bodies, "key=value" log text
_KV = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z][A-Za-z0-9_.\-]*)=([^&\s\"',;<>]+)")
# "name": "value" (JSON, Python reprs)
_QUOTED = re.compile(r"([\"'])([A-Za-z][A-Za-z0-9_.\-]*)\1(\s*:\s*)([\"'])((?:\\.|(?!\4).)*)\4")
# Name: value (HTTP headers, one per line)
_HEADER = re.compile(r"(?m)^(\s*)([A-Za-z][A-Za-z0-9_.\-]*)(\s*:\s*)(\S[^\r\n]*)")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+):[^/\s@]+@")
# What every pattern above needs somewhere in the text: a PEM header, a bearer/basic word (in the
# pattern's own case-insensitive sense), "=" (name=value) or ":" (quoted, header and URL userinfo).
_MAYBE = re.compile(r"(?i)-----BEGIN|\b(?:bearer|basic)\s|[=:]")


def redact_text(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret masked (see the module docstring for what that covers).

    Parameters
    ----------
    text
        Any text (a non-str is converted with ``str``): a log message, an exception, a URL, a body.
    extra
        More values to mask in every encoding (the exchange client's own credentials, a short secret).

    Examples
    --------
    >>> redact_text('{"apiKey": "abc", "symbol": "BTCUSDT"} X-MBX-APIKEY header follows')
    '{"apiKey": "***", "symbol": "BTCUSDT"} X-MBX-APIKEY header follows'
    >>> print(redact_text("X-MBX-APIKEY: abcdef" + chr(10) + "Accept: json"))
    X-MBX-APIKEY: ***
    Accept: json
    >>> redact_text("pass pw12", ["pw12"])
    'pass ***'
    """
    if not isinstance(text, str):
        text = str(text)
    for form in _live_forms(extra):
        if form in text:
            text = text.replace(form, MASK)
    if not _MAYBE.search(text):  # none of the patterns below can match (each needs one of these)
        return text
    text = _PEM.sub(MASK, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _KV.sub(lambda m: f"{m.group(1)}={MASK}" if is_credential_name(m.group(1)) else m.group(0), text)
    text = _QUOTED.sub(
        lambda m: (
            f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}{m.group(4)}{MASK}{m.group(4)}"
            if is_credential_name(m.group(2))
            else m.group(0)
        ),
        text,
    )
    text = _HEADER.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}" if is_credential_name(m.group(2)) else m.group(0), text
    )
    return _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)


def redact_query(query: str) -> str:
    """``a=1&b=2`` text without its credential pairs (dropped, not masked), live values masked.

    >>> redact_query("symbol=BTCUSDT&timestamp=1&signature=abc&apiKey=k")
    'symbol=BTCUSDT&timestamp=1'
    """
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return redact_text(urlencode([(k, v) for k, v in pairs if not is_credential_name(k)], safe="/:,"))


def redact_url(url: str) -> str:
    """A URL safe to log: credential query parameters dropped, a URL password masked, live values masked.

    >>> redact_url("https://x.test/p?apiKey=abc&secret=def&listenKey=zz&a=1")
    'https://x.test/p?a=1'
    """
    try:
        parts = urlsplit(str(url))
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}" if ":" in userinfo else netloc
        cleaned = urlunsplit((parts.scheme, netloc, parts.path, redact_query(parts.query), parts.fragment))
    except ValueError:
        cleaned = str(url)
    return redact_text(cleaned)


# ---------------------------------------------------------------- arguments

_RUN = re.compile(r"[A-Za-z0-9+/=_-]+")  # the alphabet of keys: alphanumerics, base64 and base64url
#: Prefixes of well-known credential formats (GitHub, Slack, Stripe, AWS access keys, JWTs, OpenAI-style).
_KNOWN_PREFIX = re.compile(r"^(gh[pousr]_|xox[abpr]-|sk_(live|test)_|rk_(live|test)_|AKIA|ASIA|eyJ|sk-)")
#: Shortest token judged by shape; shorter ones (symbols, amounts, ``tk-1``) are always safe to show.
SHORT_KEY_LEN = 16


def _entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _key_shaped(segment: str) -> bool:
    if len(segment) >= 12 and _KNOWN_PREFIX.match(segment):
        return True
    if len(segment) >= 32:
        return True
    mixed = (
        any(c.isupper() for c in segment) and any(c.islower() for c in segment) and any(c.isdigit() for c in segment)
    )
    return len(segment) >= SHORT_KEY_LEN and mixed and _entropy(segment) >= 3.0


def looks_like_secret(value: object) -> bool:
    """True if ``value`` is, contains or has the shape of a credential: never repeat it in a message.

    The rule: ``value`` holds a PEM block (``-----BEGIN ...``), or a live registered secret in any
    encoding, or a token shaped like a key. Tokens are the runs of key characters
    (``[A-Za-z0-9+/=_-]``; anything else, such as a space, a dot or a quote, separates them), and a
    token is key-shaped when

    - it is 32+ characters long and has no ``/`` (Binance's 64-character keys, hex and base64 secrets), or
    - one of its ``/``-separated parts is 32+ characters long, or is 16+ characters of mixed
      upper case, lower case and digits with at least 3 bits of entropy per character (short
      random keys; a word, a date, ``BTC_USDT-1h`` or a path's parts are not), or
    - it starts with a well-known credential prefix (``ghp_``, ``xoxb-``, ``sk_live_``, ``AKIA``,
      a JWT's ``eyJ``) and is 12+ characters long.

    Not caught: lowercase-only or digit-only secrets under 32 characters, and passphrases made of
    words; they are masked once registered (:func:`register`), never echoed by the kit's own
    messages, which show such arguments through :func:`shown` only. Bytes are judged by their hex form.

    Examples
    --------
    >>> [looks_like_secret(v) for v in ("binance", "BTC/USDT", "0.001", "live_small", "2024-06-01T00-00-00",
    ...                                 "data/binance/BTC_USDT-1h.parquet", "tk-000001-3f9a2b1c4d5e6f70")]
    [False, False, False, False, False, False, False]
    >>> [looks_like_secret(v) for v in ("Ab3dE5gH7jK9mN1p", "my key is Ab3dE5gH7jK9mN1pQ2rS",
    ...                                 "AKIAIOSFODNN7EXAMPLE", "-----BEGIN PRIVATE KEY----- MC4CAQ...")]
    [True, True, True, True]
    """
    if isinstance(value, bytes | bytearray):
        value = binascii.hexlify(bytes(value)).decode()
    if not isinstance(value, str) or not value:
        return False
    if "-----BEGIN" in value or "PRIVATE KEY-----" in value:
        return True
    if holds_live_secret(value):
        return True
    for run in _RUN.findall(value):
        if len(run) >= 32 and "/" not in run:
            return True
        if any(_key_shaped(part) for part in run.split("/")):
            return True
    return False


def shown(value: object, *, limit: int = 60) -> str:
    """``repr(value)`` for a message, or a placeholder when the value looks like a credential.

    >>> shown("BTC/USDT"), shown("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A")
    ("'BTC/USDT'", '<a value that looks like a credential, not shown>')
    """
    if looks_like_secret(value) or (isinstance(value, str) and redact_text(value) != value):
        return "<a value that looks like a credential, not shown>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception chained to it (``__cause__``, ``__context__``), each once.

    What the redacting paths walk: a secret in a chained exception shows in its traceback too.

    >>> try:
    ...     try:
    ...         raise KeyError("inner")
    ...     except KeyError as e:
    ...         raise ValueError("outer") from e
    ... except ValueError as outer:
    ...     [type(e).__name__ for e in exception_chain(outer)]
    ['ValueError', 'KeyError']
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]
