"""A real ccxt Binance client pointed at a localnet URL (wire spec 1.2 and 1.4).

Every base URL in ``urls['api']`` (REST and, for ccxt.pro, WebSocket) is rewritten to the local
server, so even an unsupported API group reaches localnet and fails cleanly instead of going to
the internet. The options keep ccxt on spot-only endpoints.

Examples
--------
>>> ex = connect("http://127.0.0.1:9", "k", "s")
>>> ex.urls["api"]["public"], ex.urls["api"]["sapi"]
('http://127.0.0.1:9/api/v3', 'http://127.0.0.1:9/sapi/v1')
>>> ex.options["fetchMarkets"]["types"]
['spot']
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

SPOT_ONLY: dict[str, Any] = {
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
    "watchBalance": {"fetchBalanceSnapshot": True},
    "fetchOpenOrders": {"warnWithoutSymbol": False},
}


def rewrite_urls(exchange: Any, url: str) -> Any:
    """Point every Binance base URL of ``exchange`` (recursively) at ``url``'s host and port."""
    target = urlsplit(url)
    host = target.netloc

    def rewrite(tree: dict[str, Any]) -> None:
        for key, value in tree.items():
            if isinstance(value, dict):
                rewrite(value)
            elif isinstance(value, str):
                parts = urlsplit(value)
                scheme = "ws" if parts.scheme in ("ws", "wss") else "http"
                tree[key] = f"{scheme}://{host}{parts.path}"

    rewrite(exchange.urls["api"])
    return exchange


def connect(
    url: str,
    api_key: str | None = None,
    secret: str | None = None,
    *,
    pro: bool = False,
    async_: bool = False,
    options: dict[str, Any] | None = None,
    **config: Any,
) -> Any:  # noqa: D417
    """Build a ``ccxt.binance`` (or async / pro variant) that talks to localnet at ``url``.

    Parameters
    ----------
    url:
        ``http://127.0.0.1:PORT`` of a running localnet.
    api_key, secret:
        Credentials (the secret is handed to ccxt only).
    pro:
        ``ccxt.pro.binance`` (async, with WebSocket streams).
    async_:
        ``ccxt.async_support.binance``.
    options:
        Extra ccxt options merged over the spot-only defaults.
    config:
        Extra constructor settings (e.g. ``enableRateLimit=False``).
    """
    if pro:
        import ccxt.pro as module
    elif async_:
        import ccxt.async_support as module
    else:
        import ccxt as module
    merged = {**SPOT_ONLY, **(options or {})}
    settings: dict[str, Any] = {"options": merged, **config}
    if api_key is not None:
        settings["apiKey"] = api_key
    if secret is not None:
        settings["secret"] = secret
    return rewrite_urls(module.binance(settings), url)
