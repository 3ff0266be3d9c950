"""The journal: an append-only SQLite record that reconstructs any past moment of an account.

Every order intent (written *before* the request), ack, update, fill, error, guard decision, stage
change, clock check and balance snapshot is one row of ``events``. Rows are never updated or
deleted (SQLite triggers refuse it), fills are recorded exactly once per venue trade, and the file
survives a crash at any instruction: WAL mode with ``synchronous=FULL`` and one transaction per row,
so a killed writer leaves either the whole row or nothing. Several processes may append at once
(SQLite's busy timeout serialises them).

Schema (``meta`` holds ``schema_version``)::

    events(seq INTEGER PRIMARY KEY, ts_ms, recorded_ms, kind, venue, account, stage, symbol,
           client_id, order_id, trade_id, payload JSON)

``ts_ms`` is when the thing happened (a fill's trade time), ``recorded_ms`` when the row was written.
Decimals are stored as strings inside the JSON payload and come back as Decimals
(:data:`kit.journal.state.DECIMAL_KEYS`). No secret is ever stored: a :class:`kit.safety.secrets.Secret`
or a credential-named field in a payload raises :class:`~kit.errors.ConfigError`, and strings pass
through :func:`kit.transport.logs.redact_text` (signed URLs inside error messages lose their signature).

Examples
--------
>>> import tempfile, pathlib
>>> from decimal import Decimal
>>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "journal.sqlite")
>>> j.append("intent", venue="binance", stage="testnet", symbol="BTC/USDT", client_id="c1",
...          side="buy", type="limit", amount=Decimal("0.01"), price=Decimal("60000"), ts_ms=1_000)
1
>>> j.record_fill(venue="binance", account="default", stage="testnet", symbol="BTC/USDT", client_id="c1",
...               order_id="42", trade_id="t1", side="buy", price=Decimal("60000"), amount=Decimal("0.004"),
...               fee_cost=Decimal("0.000004"), fee_currency="BTC", ts_ms=2_000)
True
>>> j.record_fill(venue="binance", account="default", stage="testnet", symbol="BTC/USDT", client_id="c1",
...               order_id="42", trade_id="t1", side="buy", price=Decimal("60000"), amount=Decimal("0.004"),
...               fee_cost=Decimal("0.000004"), fee_currency="BTC", ts_ms=2_000)
False
>>> j.state_at(2_000).positions
{'BTC/USDT': Decimal('0.003996')}
>>> j.state_at(1_500).orders["c1"].status
'intent'
>>> j.close()
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd

from kit.errors import ConfigError, DataError
from kit.journal.state import (
    DECIMAL_KEYS,
    Fill,
    JournalEvent,
    JournalState,
    OrderState,
    base_quote,
    replay,
    replay_orders,
    to_decimal,
)
from kit.safety.private import private_dir
from kit.transport.logs import is_credential_name, redact_text

__all__ = ["SCHEMA_VERSION", "Fill", "Journal", "JournalEvent", "JournalState", "OrderState", "to_ms"]

#: Version of the on-disk schema; a journal written by a newer kit is refused, never rewritten.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    recorded_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    venue TEXT NOT NULL,
    account TEXT NOT NULL,
    stage TEXT NOT NULL,
    symbol TEXT NOT NULL,
    client_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    payload TEXT NOT NULL CHECK (json_valid(payload))
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts_ms);
CREATE INDEX IF NOT EXISTS events_kind_ts ON events (kind, ts_ms);
CREATE INDEX IF NOT EXISTS events_client ON events (venue, client_id) WHERE client_id != '';
CREATE INDEX IF NOT EXISTS events_order ON events (venue, order_id) WHERE order_id != '';
CREATE INDEX IF NOT EXISTS events_trade ON events (venue, trade_id) WHERE trade_id != '';
CREATE INDEX IF NOT EXISTS events_fill_stage ON events (stage, symbol, ts_ms) WHERE kind = 'fill';
-- Exactly-once fills: a venue trade id is unique per account and symbol (Binance numbers trades per
-- symbol), and a self-trade gives the same id to our buy and our sell, hence the side.
CREATE UNIQUE INDEX IF NOT EXISTS events_fill_once
    ON events (venue, account, symbol, trade_id, json_extract(payload, '$.side')) WHERE kind = 'fill';
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only: events are never updated'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only: events are never deleted'); END;
"""

_COLUMNS = ("seq", "ts_ms", "recorded_ms", "kind", "venue", "account", "stage", "symbol", "client_id", "order_id",
            "trade_id", "payload")  # fmt: skip
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM events"
_RESERVED_PAYLOAD = frozenset({*_COLUMNS, "time"})
# Kinds that move order state, and those state_at needs on top of them.
_ORDER_KINDS = ("intent", "ack", "order", "unknown", "resolved", "cancel_intent", "cancel_ack", "fill", "error")
_STATE_KINDS = (*_ORDER_KINDS, "balance")

TimeLike = int | datetime | pd.Timestamp | str


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(value: TimeLike) -> int:
    """Milliseconds since the epoch (UTC) from int ms, a datetime, a pandas Timestamp or an ISO string.

    Naive datetimes and strings without an offset are taken as UTC, the kit's only time zone.

    Examples
    --------
    >>> to_ms(1_700_000_000_000), to_ms("2024-01-01"), to_ms(pd.Timestamp("2024-01-01", tz="Europe/Paris"))
    (1700000000000, 1704067200000, 1704063600000)
    """
    if isinstance(value, bool):
        raise TypeError("a bool is not a time")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime | str):
        ts = pd.Timestamp(value)
    elif isinstance(value, pd.Timestamp):
        ts = value
    else:
        raise TypeError(f"not a time: {type(value).__name__}; use int ms (UTC), datetime, pd.Timestamp or ISO text")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def _is_secret(value: Any) -> bool:
    """A :class:`kit.safety.secrets.Secret` / ``Credentials``, or anything shaped like a secret (has ``reveal``)."""
    if hasattr(value, "reveal") or hasattr(value, "api_key"):
        return True
    try:
        from kit.safety.secrets import Credentials, Secret
    except ImportError:
        return False
    return isinstance(value, Secret | Credentials)


def _text(name: str, value: Any) -> str:
    """A row column: str (a str Enum gives its value); checked for secrets, never silently altered."""
    if isinstance(value, Enum):
        value = value.value
    if _is_secret(value):
        raise ConfigError(f"journal column {name!r} was given a secret", hint=_NO_SECRET_HINT)
    if not isinstance(value, str):
        raise TypeError(f"journal column {name!r} must be str, not {type(value).__name__}")
    if redact_text(value) != value:
        raise ConfigError(f"journal column {name!r} contains a credential", hint=_NO_SECRET_HINT)
    return str(value)


_NO_SECRET_HINT = (
    "Secrets never go into the journal: pass the key's fingerprint, not the key, and keep credentials in the "
    "environment (KIT_..._API_KEY), .env or the OS keyring."
)


_PLAIN = (type(None), bool, int)  # exact types with nothing to check or convert (never a secret)


def _encode(value: Any, where: str) -> Any:
    """Check and convert one payload value to JSON-ready form (Decimal -> str, str -> redacted str)."""
    t = type(value)
    if t is str:  # the common cases first, by exact type (a subclass takes the full path below)
        return redact_text(value)
    if t in _PLAIN:
        return value
    if _is_secret(value):
        raise ConfigError(f"journal payload {where} is a secret", hint=_NO_SECRET_HINT)
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"journal payload {where} is {value}; amounts must be finite")
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"journal payload {where} is {value}; numbers must be finite")
        return float(value)
    if isinstance(value, str):
        return redact_text(str(value))
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"journal payload {where} has a non-str key {k!r}")
            if is_credential_name(k):
                raise ConfigError(f"journal payload {where}.{k} looks like a credential field", hint=_NO_SECRET_HINT)
            out[k] = _encode(v, f"{where}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"journal payload {where} is a {type(value).__name__}; store Decimal, str, int, float, bool, None, "
        "list or dict (times as int ms)"
    )


def _encode_payload(payload: Mapping[str, Any]) -> str:
    for key in payload:
        if key in _RESERVED_PAYLOAD:
            raise ValueError(f"payload key {key!r} is a journal column name; rename it")
        if is_credential_name(key):
            raise ConfigError(f"journal payload field {key!r} looks like a credential", hint=_NO_SECRET_HINT)
    encoded = {k: _encode(v, k) for k, v in payload.items()}
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _decode(value: Any, key: str | None = None) -> Any:
    """Payload JSON back to Python, with Decimal for the money keys."""
    if isinstance(value, dict):
        return {k: _decode(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, key) for v in value]
    if key in DECIMAL_KEYS and isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return to_decimal(value)
        except ValueError:
            return value
    return value


def _event(row: tuple[Any, ...]) -> JournalEvent:
    seq, ts_ms, recorded_ms, kind, venue, account, stage, symbol, client_id, order_id, trade_id, payload = row
    return JournalEvent(
        seq=seq, ts_ms=ts_ms, kind=kind, venue=venue, account=account, stage=stage, symbol=symbol,
        client_id=client_id, order_id=order_id, trade_id=trade_id, payload=_decode(json.loads(payload)),
        recorded_ms=recorded_ms,
    )  # fmt: skip


class Journal:
    """Append-only event journal of one machine (all venues, accounts and stages) in one SQLite file.

    Parameters
    ----------
    path
        The SQLite file; parent directories are created, and a new file is created readable by its
        owner only (0600).
    timeout_s
        How long a write waits for another process's write to finish (SQLite busy timeout).

    Raises
    ------
    DataError
        The file is not a journal (not SQLite, or SQLite without a journal's ``meta``), was written
        by a newer kit, or cannot use WAL (e.g. a network file system).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with Journal(pathlib.Path(tempfile.mkdtemp()) / "j.sqlite") as j:
    ...     seq = j.append("clock", venue="binance", offset_ms=-12, rtt_ms=40, ts_ms=5)
    ...     [(e.kind, e.get("offset_ms")) for e in j.events(kinds=["clock"])]
    [('clock', -12)]
    """

    def __init__(self, path: str | Path, *, timeout_s: float = 60.0) -> None:
        self.path = Path(path).expanduser()
        self.timeout_s = timeout_s
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._db: sqlite3.Connection | None = None
        self._batch_thread: int | None = None  # the thread whose batch() transaction is open
        self._inherited: list[sqlite3.Connection] = []
        private_dir(self.path.parent)  # a folder created for the journal is 0700
        if not self.path.exists():
            # Create it 0600 ourselves: SQLite gives its -wal/-shm files the database file's mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = self._open()

    @classmethod
    def default_path(cls) -> Path:
        """``$KIT_HOME/journal.sqlite`` (``KIT_HOME`` defaults to ``~/.tradekit``)."""
        home = os.environ.get("KIT_HOME") or "~/.tradekit"
        return Path(home).expanduser() / "journal.sqlite"

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ connection

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise DataError(f"cannot open the journal {self.path}: {exc}") from exc
        try:
            self._setup(db)
        except BaseException:
            db.close()
            raise
        return db

    def _setup(self, db: sqlite3.Connection) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:  # switching to WAL takes a lock another opener may hold for a moment
            try:
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise DataError(f"cannot open the journal {self.path}: {exc}") from exc
                time.sleep(0.01)
            except sqlite3.DatabaseError as exc:
                raise DataError(f"{self.path} is not a journal (not an SQLite database): {exc}") from exc
        if str(mode).lower() != "wal":
            raise DataError(
                f"the journal {self.path} cannot use WAL mode (got {mode!r})",
                hint="Keep the journal on a local disk (set KIT_HOME), not a network file system.",
            )
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
        with self._transaction(db):
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version: int | None = None
            if "meta" in tables:
                row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                version = int(row[0]) if row else None
            if tables - {"sqlite_sequence"} and version is None:
                raise DataError(f"{self.path} is an SQLite database but not a journal (no schema_version)")
            if version is not None and version > SCHEMA_VERSION:
                raise DataError(
                    f"the journal {self.path} has schema version {version}; this kit reads up to {SCHEMA_VERSION}",
                    hint="Upgrade tradekit; the journal is never rewritten by an older version.",
                )
            if version is None:
                for statement in _SCHEMA.split(";\n"):
                    if statement.strip():
                        db.execute(statement)
                db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("created_ms", str(_now_ms()))],
                )

    @staticmethod
    @contextmanager
    def _transaction(db: sqlite3.Connection) -> Iterator[None]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                raise ValueError(f"{self!r} is closed")
            if os.getpid() != self._pid:
                # A connection must not cross fork(): the child opens its own. The inherited one is kept
                # referenced and never closed here, since closing it could checkpoint or unlink the parent's WAL.
                self._inherited.append(self._db)
                self._pid = os.getpid()
                self._db = self._open()
            yield self._db

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Append several rows as one durable transaction: one fsync instead of one per row.

        Rows appended inside are durable together when the block ends (all or none after a crash),
        and reads inside see them. Other threads' appends wait for the block (the journal's lock is
        held); other processes wait on SQLite's lock. Nested blocks join the outer one. The forward
        runner journals the guard verdicts and intents of all the orders of one candle close this way
        (:meth:`kit.session.Session.place_many`) before it sends any of them.

        >>> import tempfile, pathlib
        >>> with Journal(pathlib.Path(tempfile.mkdtemp()) / "j.sqlite") as j:
        ...     with j.batch():
        ...         a = j.append("note", venue="x", n=1)
        ...         b = j.append("note", venue="x", n=2)
        ...     [e.get("n") for e in j.events(kinds=["note"])]
        [1, 2]
        """
        with self._conn() as db:  # holds the lock for the whole block
            if db.in_transaction:
                yield
                return
            self._batch_thread = threading.get_ident()
            try:
                with self._transaction(db):
                    yield
            finally:
                self._batch_thread = None

    def in_batch(self) -> bool:
        """True inside a :meth:`batch` block of this thread: rows appended now are not durable yet.

        >>> import tempfile, pathlib
        >>> with Journal(pathlib.Path(tempfile.mkdtemp()) / "j.sqlite") as j:
        ...     with j.batch():
        ...         inside = j.in_batch()
        ...     inside, j.in_batch()
        (True, False)
        """
        return self._batch_thread == threading.get_ident()

    def close(self) -> None:
        """Close the connection (committed rows are already durable); further calls raise ValueError."""
        with self._lock:
            if self._db is not None and os.getpid() == self._pid:
                self._db.close()
            self._db = None

    # ------------------------------------------------------------ writing

    def append(
        self,
        kind: str,
        *,
        venue: str,
        account: str = "default",
        stage: str = "",
        symbol: str = "",
        client_id: str = "",
        order_id: str = "",
        trade_id: str = "",
        ts_ms: int | None = None,
        **payload: Any,
    ) -> int:
        """Append one event and return its ``seq`` (durable when this returns).

        Parameters
        ----------
        kind
            ``"intent"``, ``"ack"``, ``"order"``, ``"unknown"``, ``"resolved"``, ``"cancel_intent"``,
            ``"cancel_ack"``, ``"error"``, ``"guard"``, ``"stage"``, ``"preflight"``, ``"clock"``,
            ``"balance"``, ``"reconcile"``, ``"killswitch"``, ``"alert"``, ... (lower-case word).
            Fills go through :meth:`record_fill`.
        venue, account, stage, symbol, client_id, order_id, trade_id
            Indexed columns (a str Enum such as :class:`kit.safety.stages.Stage` is stored as its value).
        ts_ms
            When it happened, ms UTC; default now.
        **payload
            Decimal, str, int, float, bool, None, list or dict values (nested alike).

        Raises
        ------
        ConfigError
            A payload value is a secret, or a field is named like a credential (``apiKey``, ``secret``...).
        TypeError
            A value of another type (convert times to int ms, objects to dicts).
        ValueError
            ``kind`` is ``"fill"`` or malformed, a number is not finite, or a payload key is a column name.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "j.sqlite")
        >>> j.append("guard", venue="binance", stage="live_small", decision="refuse", rule="max_order_notional")
        1
        """
        if kind == "fill":
            raise ValueError("fills are journaled with record_fill(), which records each trade exactly once")
        if not isinstance(kind, str) or not kind or not kind.replace("_", "").isalnum() or kind != kind.lower():
            raise ValueError(f"journal kind must be a lower-case word, not {kind!r}")
        seq = self._insert(
            kind, venue=venue, account=account, stage=stage, symbol=symbol, client_id=client_id, order_id=order_id,
            trade_id=trade_id, ts_ms=ts_ms, payload=payload,
        )  # fmt: skip
        assert seq is not None  # only ON CONFLICT DO NOTHING (fills) can skip the row
        return seq

    def _insert(self, kind: str, *, ts_ms: int | None, payload: Mapping[str, Any], once: bool = False,
                **columns: Any) -> int | None:  # fmt: skip
        if ts_ms is not None and (isinstance(ts_ms, bool) or not isinstance(ts_ms, int)):
            raise TypeError(f"ts_ms must be int milliseconds (UTC), not {type(ts_ms).__name__}")
        values = {name: _text(name, value) for name, value in columns.items()}
        if not values["venue"]:
            raise ValueError("venue is required (the ccxt exchange id, e.g. 'binance', or 'localnet')")
        body = _encode_payload(payload)
        now = _now_ms()
        sql = (
            "INSERT INTO events (ts_ms, recorded_ms, kind, venue, account, stage, symbol, client_id, order_id, "
            "trade_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        if once:
            sql += " ON CONFLICT DO NOTHING"
        params = (
            now if ts_ms is None else ts_ms, now, kind, values["venue"], values["account"], values["stage"],
            values["symbol"], values["client_id"], values["order_id"], values["trade_id"], body,
        )  # fmt: skip
        with self._conn() as db:
            cur = db.execute(sql, params)  # one statement in autocommit mode: one atomic, durable transaction
            if cur.rowcount != 1:
                return None
            return int(cur.lastrowid or 0)

    def record_fill(
        self,
        *,
        venue: str,
        account: str,
        stage: str,
        symbol: str,
        client_id: str,
        order_id: str,
        trade_id: str,
        side: str,
        price: Decimal | str | int | float,
        amount: Decimal | str | int | float,
        fee_cost: Decimal | str | int | float | None,
        fee_currency: str | None,
        ts_ms: int,
        foreign: bool = False,
    ) -> bool:
        """Journal one fill (a trade of ours) exactly once; the only input to positions.

        Parameters
        ----------
        venue, account, stage, symbol, client_id, order_id
            Where the fill belongs (``symbol`` in ccxt form ``BASE/QUOTE``).
        trade_id
            The venue's trade id; required. One (venue, account, symbol, trade id, side) is journaled once.
        side
            ``"buy"`` or ``"sell"``.
        price, amount
            Positive; floats (ccxt's unified numbers) are read through their shortest repr, exactly.
        fee_cost, fee_currency
            The fee charged and its currency (``None`` / ``""`` when there was none).
        ts_ms
            The trade time, ms UTC.
        foreign
            The fill belongs to an order this journal did not place (adopted by reconciliation from the
            account's trades: placed by hand, or by a kit process with another journal). It counts in
            positions and balances, but its order is not tracked as open and it is never stage evidence.

        Returns
        -------
        bool
            True if written, False (and no row) if that trade was already journaled, by this or any
            other process: the check and the write are one atomic statement.
        """
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
        if not isinstance(trade_id, str | int) or isinstance(trade_id, bool) or not str(trade_id):
            raise ValueError("a fill needs the venue's trade id (exactly-once recording keys on it)")
        base_quote(symbol)  # ValueError unless BASE/QUOTE
        if isinstance(ts_ms, bool) or not isinstance(ts_ms, int):
            raise TypeError(f"ts_ms must be int milliseconds (UTC), not {type(ts_ms).__name__}")
        p, a = to_decimal(price), to_decimal(amount)
        if p is None or a is None or not p.is_finite() or not a.is_finite() or p <= 0 or a <= 0:
            raise ValueError(f"a fill needs a positive price and amount, got price={price!r} amount={amount!r}")
        fee = to_decimal(fee_cost) or Decimal(0)
        if not fee.is_finite():
            raise ValueError(f"fee_cost must be finite, got {fee_cost!r}")
        currency = fee_currency or ""
        if fee and not currency:
            raise ValueError("fee_currency is required when fee_cost is not zero")
        payload: dict[str, Any] = {"side": side, "price": p, "amount": a, "fee_cost": fee, "fee_currency": currency}
        if foreign:
            payload["foreign"] = True
        seq = self._insert(
            "fill", venue=venue, account=account, stage=stage, symbol=symbol, client_id=client_id, order_id=order_id,
            trade_id=str(trade_id), ts_ms=ts_ms, payload=payload, once=True,
        )  # fmt: skip
        return seq is not None

    # ------------------------------------------------------------ reading

    def _query(self, where: list[str], params: list[Any], order: str = "seq") -> list[JournalEvent]:
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY {order}"
        with self._conn() as db:
            rows = db.execute(sql, params).fetchall()
        return [_event(r) for r in rows]

    @staticmethod
    def _filters(**filters: Any) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        # Reading on from a seq (an incremental reader): only the rows after it are looked at (the
        # primary key's range), not every row of the kinds through the kind index ("+" keeps
        # SQLite from choosing an index for a column).
        plus = "+" if filters.get("after_seq") is not None else ""
        for name, value in filters.items():
            if value is None:
                continue
            if name == "since_ms":
                where.append(f"{plus}ts_ms >= ?")
                params.append(to_ms(value))
            elif name == "until_ms":
                where.append("ts_ms <= ?")
                params.append(to_ms(value))
            elif name == "after_seq":
                where.append("seq > ?")
                params.append(int(value))
            elif name == "kinds":
                kinds = [value] if isinstance(value, str) else list(value)
                where.append(f"{plus}kind IN ({', '.join('?' * len(kinds))})")
                params.extend(kinds)
            else:
                where.append(f"{plus}{name} = ?")
                params.append(value.value if isinstance(value, Enum) else value)
        return where, params

    def events(
        self,
        *,
        since_ms: TimeLike | None = None,
        until_ms: TimeLike | None = None,
        kinds: Iterable[str] | str | None = None,
        venue: str | None = None,
        symbol: str | None = None,
        client_id: str | None = None,
        account: str | None = None,
        stage: str | None = None,
        order_id: str | None = None,
        after_seq: int | None = None,
    ) -> list[JournalEvent]:
        """Events in journal order (``seq``), filtered; ``since_ms`` / ``until_ms`` bound ``ts_ms`` inclusively.

        ``after_seq``: only rows appended after that ``seq`` (a reader that keeps up incrementally).
        """
        where, params = self._filters(
            since_ms=since_ms, until_ms=until_ms, kinds=kinds, venue=venue, symbol=symbol, client_id=client_id,
            account=account, stage=stage, order_id=order_id, after_seq=after_seq,
        )  # fmt: skip
        return self._query(where, params)

    def has_trade(self, venue: str, trade_id: str, *, symbol: str | None = None, account: str | None = None) -> bool:
        """True if a fill with this venue trade id is journaled (narrowed by symbol / account when given)."""
        where, params = self._filters(venue=venue, trade_id=str(trade_id), symbol=symbol, account=account)
        sql = "SELECT 1 FROM events WHERE kind = 'fill' AND " + " AND ".join(where) + " LIMIT 1"
        with self._conn() as db:
            return db.execute(sql, params).fetchone() is not None

    def order_states(
        self, *, venue: str | None = None, at_ms: TimeLike | None = None, account: str | None = None
    ) -> dict[str, OrderState]:
        """Every journaled order by client id as of ``at_ms`` (default: now, everything journaled)."""
        where, params = self._filters(kinds=_ORDER_KINDS, venue=venue, account=account, until_ms=at_ms)
        return replay_orders(self._query(where, params), at_ms=None if at_ms is None else to_ms(at_ms))

    def state_at(self, at: TimeLike, *, venue: str | None = None, account: str | None = None) -> JournalState:
        """The account as of ``at``: orders, positions (from fills only), balances and fills.

        See :mod:`kit.journal.state` for the rules. Everything with ``ts_ms <= at`` counts.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "j.sqlite")
        >>> _ = j.append("balance", venue="x", ts_ms=10,
        ...              balances={"USDT": {"free": "100", "used": "0", "total": "100"}})
        >>> _ = j.record_fill(venue="x", account="default", stage="testnet", symbol="BTC/USDT", client_id="c",
        ...                   order_id="1", trade_id="9", side="buy", price="50", amount="1", fee_cost="0.05",
        ...                   fee_currency="USDT", ts_ms=20)
        >>> j.state_at(15).balances, j.state_at(20).balances
        ({'USDT': Decimal('100')}, {'USDT': Decimal('49.95'), 'BTC': Decimal('1')})
        """
        at_ms = to_ms(at)
        where, params = self._filters(kinds=_STATE_KINDS, venue=venue, account=account, until_ms=at_ms)
        return replay(self._query(where, params, order="ts_ms, seq"), at_ms=at_ms)

    def fills(
        self, *, since_ms: TimeLike | None = None, until_ms: TimeLike | None = None, venue: str | None = None,
        symbol: str | None = None, account: str | None = None, stage: str | None = None,
    ) -> list[Fill]:  # fmt: skip
        """Journaled fills in journal order."""
        where, params = self._filters(
            kinds="fill", since_ms=since_ms, until_ms=until_ms, venue=venue, symbol=symbol, account=account,
            stage=stage,
        )  # fmt: skip
        return [Fill.from_event(e) for e in self._query(where, params)]

    def frame(
        self,
        kind: str | None = None,
        *,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
        venue: str | None = None,
    ) -> pd.DataFrame:
        """Events as a DataFrame indexed by tz-aware UTC ``time``; columns: the row's, then the payload's.

        Money columns hold Decimals (exact; ``.astype(float)`` for plotting).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "j.sqlite")
        >>> _ = j.append("clock", venue="binance", offset_ms=3, rtt_ms=20, ts_ms=1_704_067_200_000)
        >>> j.frame("clock")[["venue", "offset_ms"]]
                                  venue  offset_ms
        time
        2024-01-01 00:00:00+00:00  binance          3
        """
        where, params = self._filters(kinds=kind, since_ms=since, until_ms=until, venue=venue)
        events = self._query(where, params)
        base = [c for c in _COLUMNS if c != "payload"]
        rows = []
        for e in events:
            row: dict[str, Any] = {c: getattr(e, c) for c in base}
            row.update(e.payload)
            rows.append(row)
        df = pd.DataFrame(rows, columns=None if rows else base)
        df.index = pd.DatetimeIndex(pd.to_datetime(df["ts_ms"].astype("int64"), unit="ms", utc=True), name="time")
        return df

    def filled_orders(self, *, stage: str, symbols: Iterable[str], since_ms: TimeLike, venue: str | None = None) -> int:
        """How many distinct orders in ``stage`` on ``symbols`` have at least one fill since ``since_ms``.

        The guard's evidence for moving up the stage ladder (e.g. testnet fills before live_small).
        Call it once per symbol to require evidence on each. Foreign fills (``record_fill(foreign=True)``:
        orders this journal did not place) are not evidence.
        """
        syms = [symbols] if isinstance(symbols, str) else list(symbols)
        if not syms:
            return 0
        where, params = self._filters(kinds="fill", stage=stage, since_ms=since_ms, venue=venue)
        where.append(f"symbol IN ({', '.join('?' * len(syms))})")
        params.extend(syms)
        where.append("json_extract(payload, '$.foreign') IS NULL")
        sql = (
            "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE " + " AND ".join(where) + " GROUP BY venue, account, "
            "symbol, CASE WHEN order_id != '' THEN order_id ELSE client_id END)"
        )
        with self._conn() as db:
            return int(db.execute(sql, params).fetchone()[0])

    def integrity_ok(self) -> bool:
        """True if ``PRAGMA integrity_check`` passes and the append-only triggers are in place."""
        try:
            with self._conn() as db:
                result = db.execute("PRAGMA integrity_check").fetchall()
                triggers = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
        except sqlite3.DatabaseError:
            return False
        return result == [("ok",)] and {"events_no_update", "events_no_delete"} <= triggers

    def __len__(self) -> int:
        with self._conn() as db:
            return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
