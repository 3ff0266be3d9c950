"""Configuration of a localnet run: symbols, accounts, keys, clock, limits and faults.

Frozen dataclasses only; secrets are never configuration (API keys are generated at start and
kept in the state directory, see :mod:`kit.localnet.venue`).

Examples
--------
>>> cfg = LocalnetConfig(seed=7, stepped=True, start_ms=1_700_000_000_000)
>>> [s.symbol for s in cfg.symbols]
['BTCUSDT', 'ETHUSDT', 'ETHBTC']
>>> sorted(k.name for k in cfg.keys)
['reader', 'restricted', 'trader', 'withdrawer']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

D = Decimal


@dataclass(frozen=True)
class SymbolSpec:
    """One spot symbol: Binance id, assets, filters, and how its synthetic market behaves.

    ``price`` is the starting price of the synthetic generator; ``daily_vol`` the typical daily
    return standard deviation; ``trades_per_min`` the average trade rate; ``trade_qty`` the
    median trade size; ``level_qty`` the typical size of a synthetic book level.

    The filters are published in exchangeInfo and enforced with the engine's filter code
    (:mod:`kit.engine.filters`); the defaults are BTCUSDT's on Binance Spot: PERCENT_PRICE_BY_SIDE
    5 / 0.2 on both sides (checked against the last price, where Binance uses the
    ``avg_price_mins`` average), MAX_NUM_ORDERS 200, MAX_NUM_ALGO_ORDERS 5.
    """

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    price: Decimal
    min_qty: Decimal
    max_qty: Decimal = D("9000")
    market_max_qty: Decimal = D("100")
    min_notional: Decimal = D("5")
    max_notional: Decimal = D("9000000")
    min_price: Decimal | None = None
    max_price: Decimal = D("1000000")
    max_iceberg_parts: int = 100
    min_trailing_bps: int = 10
    max_trailing_bps: int = 2000
    bid_multiplier_up: Decimal = D("5")
    bid_multiplier_down: Decimal = D("0.2")
    ask_multiplier_up: Decimal = D("5")
    ask_multiplier_down: Decimal = D("0.2")
    avg_price_mins: int = 5
    max_num_orders: int = 200
    max_num_algo_orders: int = 5
    maker_fee: Decimal = D("0.001")
    taker_fee: Decimal = D("0.001")
    base_precision: int = 8
    quote_precision: int = 8
    daily_vol: float = 0.025
    trades_per_min: float = 40.0
    trade_qty: Decimal = D("0.01")
    level_qty: Decimal = D("0.5")
    spread_bps: float = 0.2
    level_gap_bps: float = 0.3
    book_levels: int = 100
    depth_levels: int = 5000


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec(
        "BTCUSDT",
        "BTC",
        "USDT",
        D("0.01"),
        D("0.00001"),
        D("60000"),
        D("0.00001"),
        max_qty=D("9000"),
        market_max_qty=D("120"),
        trade_qty=D("0.01"),
        level_qty=D("0.4"),
    ),
    SymbolSpec(
        "ETHUSDT",
        "ETH",
        "USDT",
        D("0.01"),
        D("0.0001"),
        D("3000"),
        D("0.0001"),
        max_qty=D("9000"),
        market_max_qty=D("3000"),
        daily_vol=0.035,
        trade_qty=D("0.2"),
        level_qty=D("6"),
    ),
    SymbolSpec(
        "ETHBTC",
        "ETH",
        "BTC",
        D("0.00001"),
        D("0.0001"),
        D("0.05"),
        D("0.0001"),
        max_qty=D("100000"),
        market_max_qty=D("1000"),
        min_notional=D("0.0001"),
        max_notional=D("9000"),
        max_price=D("922327"),
        daily_vol=0.02,
        trades_per_min=12.0,
        trade_qty=D("0.2"),
        level_qty=D("5"),
        spread_bps=2.0,
    ),
)


@dataclass(frozen=True)
class AccountSpec:
    """A trading account and its opening balances (asset -> amount)."""

    name: str
    balances: dict[str, Decimal] = field(default_factory=dict)


DEFAULT_ACCOUNTS: tuple[AccountSpec, ...] = (
    AccountSpec("main", {"USDT": D("10000"), "BTC": D("0.5"), "ETH": D("5")}),
    AccountSpec("alt", {"USDT": D("5000"), "BTC": D("0.1")}),
)


@dataclass(frozen=True)
class KeySpec:
    """An API key to generate at first start.

    ``env`` is the prefix of the environment variable names under which ``kit localnet serve``
    offers the key (``<env>_API_KEY`` / ``<env>_API_SECRET``); the values are never printed
    unless asked for.
    """

    name: str
    account: str
    reading: bool = True
    spot_trading: bool = False
    withdrawals: bool = False
    ip_allowlist: tuple[str, ...] = ()
    env: str = ""
    kind: str = "hmac"  # or "ed25519"

    @property
    def env_prefix(self) -> str:
        """Environment variable prefix, e.g. ``KIT_LOCALNET_TRADER``."""
        return self.env or f"KIT_LOCALNET_{self.name.upper()}"


DEFAULT_KEYS: tuple[KeySpec, ...] = (
    KeySpec("trader", "main", spot_trading=True, env="KIT_LOCALNET"),
    KeySpec("reader", "main"),
    KeySpec("withdrawer", "alt", spot_trading=True, withdrawals=True),
    KeySpec("restricted", "main", spot_trading=True, ip_allowlist=("203.0.113.7",)),
)


@dataclass(frozen=True)
class LimitsConfig:
    """Rate limits, as Binance publishes them in exchangeInfo ``rateLimits``.

    ``ban_base_s`` is the first 418 ban length; each further violation during a ban doubles it
    up to ``ban_max_s``. ``violations_before_ban`` 429s inside one minute lead to a ban.
    ``order_limit_status`` is the HTTP status of a ``-1015`` (too many new orders) answer: 429,
    as Binance sends it (ccxt then raises ``DDoSProtection``); 400 reproduces what an older
    localnet sent (ccxt's ``RateLimitExceeded``).
    """

    weight_per_minute: int = 6000
    sapi_weight_per_minute: int = 12000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    violations_before_ban: int = 3
    ban_base_s: float = 120.0
    ban_max_s: float = 3 * 24 * 3600.0
    order_limit_status: int = 429
    enabled: bool = True


@dataclass(frozen=True)
class FaultConfig:
    """Faults injected on purpose; all probabilities are per request and seeded.

    Parameters
    ----------
    latency_ms, latency_jitter_ms:
        Extra delay added to each response.
    error_rate:
        Probability of an HTTP 5xx (503 ``-1001``/``Internal error``) instead of handling.
    error_burst:
        Once an error fires, this many following requests fail too.
    drop_ack_rate:
        Probability that an accepted order's response is never sent (connection closed).
    ws_disconnect_rate:
        Probability per stream event that the stream side drops the connection (read by the
        stream adapter from ``venue.faults``).
    clock_skew_ms:
        Added to the server time the venue reports and checks against.
    maintenance:
        Every request answers 503 and system status reports 1.
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_burst: int = 0
    drop_ack_rate: float = 0.0
    ws_disconnect_rate: float = 0.0
    clock_skew_ms: int = 0
    maintenance: bool = False
    seed: int | None = None


@dataclass(frozen=True)
class LocalnetConfig:
    """Everything a localnet run needs; all fields have working defaults.

    Parameters
    ----------
    seed:
        Seeds the price generator, the demo keys are random regardless.
    speed, stepped, start_ms:
        Clock (see :class:`kit.localnet.clock.Clock`).
    candles:
        Replay mode: Binance symbol id -> candles DataFrame (UTC DatetimeIndex; open, high, low,
        close, volume). Symbols without candles keep the synthetic generator.
    history_minutes:
        Synthetic candle history generated before ``start_ms`` so klines have a past.
    state_dir:
        Where SQLite state, the keys file and the request log live; ``None`` keeps everything in
        memory (no persistence, no log file unless ``log_path``).
    tick_interval_ms:
        Wall milliseconds between simulation ticks when the clock runs by itself.
    mirror:
        Mirror mode (the paper venue, :mod:`kit.paper`): an object whose ``source(spec)`` and
        ``book(spec)`` give each symbol's market instead of the synthetic generator.
    role:
        ``"localnet"``, or ``"rehearsal"`` for an instance declared a rehearsal venue
        (:func:`kit.session.venues.start_rehearsal`): its keys file sets ``KIT_REHEARSAL_URL``, never
        ``KIT_LOCALNET_URL``, and ``GET /_localnet/state`` says its role, so neither is taken for the other.
    """

    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS
    accounts: tuple[AccountSpec, ...] = DEFAULT_ACCOUNTS
    keys: tuple[KeySpec, ...] = DEFAULT_KEYS
    seed: int = 7
    speed: float = 1.0
    stepped: bool = False
    start_ms: int | None = None
    candles: dict[str, Any] | None = None
    history_minutes: int = 2 * 24 * 60
    state_dir: Path | None = None
    log_path: Path | None = None
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    fill_model: Any = None
    tick_interval_ms: int = 100
    max_recv_window_ms: int = 60_000
    admin: bool = True
    mirror: Any = None
    role: str = "localnet"

    @classmethod
    def from_store(
        cls,
        store: Any,
        *,
        symbols: Iterable[str] | None = None,
        timeframe: str = "1m",
        history_minutes: int | None = None,
        specs: tuple[SymbolSpec, ...] = (),
        **fields: Any,
    ) -> LocalnetConfig:
        """A replay of the real candles a kit candle store holds (what ``kit localnet serve --store`` runs).

        ``store`` is an open :class:`kit.store.Store` (localnet does not import the store, see
        docs/architecture.md: the caller opens it); ``symbols`` the Binance ids to replay (default:
        every listed symbol the store has candles of; a named one it has none of is an error);
        ``timeframe`` the stored candles to read (``"1m"``, or ``"5m"`` ...: smaller kline
        intervals then answer -1120). With ``history_minutes`` the clock starts that far into the
        data (the rest is replayed as time runs); without it, at the first candle. ``specs`` the
        symbol specs (filters; default :data:`DEFAULT_SYMBOLS`). Other keyword arguments are
        :class:`LocalnetConfig` fields (``stepped``, ``state_dir`` ...).

        >>> from kit.localnet import LocalnetConfig
        >>> LocalnetConfig.from_store(object(), symbols=["DOGEUSDT"])
        Traceback (most recent call last):
        ...
        kit.errors.ConfigError: DOGEUSDT is not a localnet symbol (BTCUSDT, ETHUSDT, ETHBTC). Name Binance ids ...
        """
        from kit.errors import ConfigError

        specs = tuple(specs) or DEFAULT_SYMBOLS
        known = [s.symbol for s in specs]
        wanted = list(symbols) if symbols is not None else None
        for sid in wanted or ():
            if sid not in known:
                raise ConfigError(f"{sid} is not a localnet symbol ({', '.join(known)})",
                                  hint="Name Binance ids of LocalnetConfig.symbols, e.g. BTCUSDT.")  # fmt: skip
        frames = store_frames(store, [s for s in specs if wanted is None or s.symbol in wanted], timeframe)
        missing = [sid for sid in wanted or () if sid not in frames]
        if missing or not frames:
            raise ConfigError(
                f"the candle store has no {timeframe} candles of {', '.join(missing or known)}",
                hint="Fill it first (kit candles fetch ...), or name symbols it has (kit candles ls).",
            )
        extra: dict[str, Any] = {"candles": frames, "symbols": specs, **fields}
        if history_minutes is not None:
            extra["history_minutes"] = history_minutes
            extra.setdefault("start_ms", replay_start_ms(frames, history_minutes))
        return cls(**extra)

    def symbol(self, symbol_id: str) -> SymbolSpec:
        """The spec of one symbol by Binance id."""
        for s in self.symbols:
            if s.symbol == symbol_id:
                return s
        raise KeyError(symbol_id)


def store_frames(store: Any, specs: Iterable[SymbolSpec], timeframe: str = "1m") -> dict[str, Any]:
    """Binance id -> the stored candles (open, high, low, close, volume) of each spec the store has.

    ``store`` is an open :class:`kit.store.Store`; only stored candles are read (offline), gaps
    stay gaps; a symbol with nothing stored is left out.
    """
    import pandas as pd

    out: dict[str, Any] = {}
    cols = ["open", "high", "low", "close", "volume"]
    for spec in specs:
        unified = f"{spec.base}/{spec.quote}"
        try:
            frame = store.candles(unified, timeframe, pd.Timestamp(0, tz="UTC"), offline=True, fill="drop",
                                  progress=False)  # fmt: skip
        except Exception:  # noqa: BLE001 - nothing stored for this symbol (or another venue's layout)
            continue
        frame = frame.dropna(subset=cols)
        if len(frame):
            out[spec.symbol] = frame[cols]
    return out


def replay_start_ms(frames: dict[str, Any], history_minutes: int) -> int:
    """Start of a replay with ``history_minutes`` of it already behind (capped at the data's end).

    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=10, freq="1min", tz="UTC")
    >>> f = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}, index=idx)
    >>> replay_start_ms({"BTCUSDT": f}, 3) - int(idx[0].value // 1_000_000)
    180000
    """
    import pandas as pd

    firsts, lasts = [], []
    for frame in frames.values():
        idx = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ms").asi8
        step = int(idx[1] - idx[0]) if len(idx) > 1 else 60_000
        firsts.append(int(idx[0]))
        lasts.append(int(idx[-1]) + step)
    return min(min(firsts) + history_minutes * 60_000, max(lasts))
