"""SQLite state of a localnet run (WAL mode), so accounts, orders and fills survive a restart.

The engine is pure and deterministic, so the venue persists the engine's *inputs* as an
append-only command log (``commands``: open_account, deposit, withdraw, submit, cancel, trade,
book, advance, ...) and rebuilds the engine on start by replaying it. Market inputs are only
logged while they can matter (a symbol has open orders, or right before a command on it), which
keeps the log small. Readable snapshot tables (``orders``, ``fills``, ``balances``) are kept
next to it for inspection and as a check after replay; ``order_meta`` holds Binance-only order
attributes (original type string, stop price, ...); ``keys`` the API keys (the file is 0600).

Examples
--------
>>> s = Store(None)                       # in memory
>>> s.append("deposit", 5, {"account": "a"})
1
>>> [c[1] for c in s.commands()]
['deposit']
>>> s.set_meta("seed", 7); s.get_meta("seed")
7
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commands (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
    ts_ms INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (name TEXT PRIMARY KEY, api_key TEXT NOT NULL, secret TEXT NOT NULL,
    account TEXT NOT NULL, reading INTEGER, spot_trading INTEGER, withdrawals INTEGER,
    ip_allowlist TEXT, created_ms INTEGER, kind TEXT, public_key BLOB);
CREATE TABLE IF NOT EXISTS order_meta (order_id INTEGER PRIMARY KEY, meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id INTEGER PRIMARY KEY, account TEXT, symbol TEXT,
    client_id TEXT, status TEXT, updated_ms INTEGER, filled_qty TEXT, snapshot TEXT);
CREATE TABLE IF NOT EXISTS fills (account TEXT, trade_id INTEGER, order_id INTEGER, ts_ms INTEGER,
    symbol TEXT, side TEXT, price TEXT, qty TEXT, quote_qty TEXT, fee TEXT, fee_asset TEXT,
    liquidity TEXT, PRIMARY KEY (account, trade_id));
CREATE TABLE IF NOT EXISTS balances (account TEXT, asset TEXT, free TEXT, locked TEXT,
    PRIMARY KEY (account, asset));
CREATE TABLE IF NOT EXISTS withdrawals (id TEXT PRIMARY KEY, account TEXT, asset TEXT, amount TEXT,
    address TEXT, ts_ms INTEGER, network TEXT, fee TEXT);
"""


class Store:
    """One SQLite database (``<state_dir>/localnet.sqlite``), or in memory if ``state_dir`` is None."""

    def __init__(self, state_dir: Path | None) -> None:
        if state_dir is None:
            self.path: Path | None = None
            self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        else:
            state_dir = Path(state_dir)
            state_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(state_dir, 0o700)
            self.path = state_dir / "localnet.sqlite"
            fresh = not self.path.exists()
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            if fresh:
                os.chmod(self.path, 0o600)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        added = (("withdrawals", "network", "TEXT"), ("withdrawals", "fee", "TEXT"), ("fills", "public_id", "INTEGER"))
        for table, col, kind in added:  # state directories written before these columns existed
            if col not in {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {col} {kind}")
        self._in_tx = False

    # -------------------------------------------------------------- transactions
    def begin(self) -> None:
        """Start a write batch (committed by :meth:`commit`)."""
        if not self._in_tx:
            self.db.execute("BEGIN")
            self._in_tx = True

    def commit(self) -> None:
        """Commit the current batch, if any."""
        if self._in_tx:
            self.db.execute("COMMIT")
            self._in_tx = False

    def close(self) -> None:
        """Commit and close."""
        self.commit()
        self.db.close()

    # -------------------------------------------------------------- meta
    def get_meta(self, key: str, default: Any = None) -> Any:
        """JSON value stored under ``key``."""
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # -------------------------------------------------------------- command log
    def append(self, kind: str, ts_ms: int, payload: dict[str, Any]) -> int:
        """Append one engine command; returns its sequence number."""
        self.begin()
        cur = self.db.execute(
            "INSERT INTO commands (kind, ts_ms, payload) VALUES (?, ?, ?)",
            (kind, ts_ms, json.dumps(payload, separators=(",", ":"))),
        )
        return int(cur.lastrowid or 0)

    def commands(self) -> Iterator[tuple[int, str, int, dict[str, Any]]]:
        """All commands in order: (seq, kind, ts_ms, payload)."""
        for seq, kind, ts, payload in self.db.execute("SELECT seq, kind, ts_ms, payload FROM commands ORDER BY seq"):
            yield seq, kind, ts, json.loads(payload)

    def high_water_ms(self) -> int | None:
        """Latest time a previous run stamped: its last market tick or logged command (None if fresh).

        The ``last_clock_ms`` meta is written at every market tick; orders placed or canceled
        after the last tick (and before a crash) carry later times, which only the log knows.
        """
        row = self.db.execute("SELECT MAX(ts_ms) FROM commands").fetchone()
        times = [int(t) for t in (self.get_meta("last_clock_ms"), row[0] if row else None) if t is not None]
        return max(times) if times else None

    def has_commands(self) -> bool:
        """True if a previous run left state."""
        return self.db.execute("SELECT 1 FROM commands LIMIT 1").fetchone() is not None

    # -------------------------------------------------------------- keys
    def save_key(self, row: dict[str, Any]) -> None:
        """Insert or replace one key row (see the ``keys`` table)."""
        self.begin()
        self.db.execute(
            "INSERT OR REPLACE INTO keys VALUES (:name, :api_key, :secret, :account, :reading, :spot_trading,"
            " :withdrawals, :ip_allowlist, :created_ms, :kind, :public_key)",
            row,
        )

    def load_keys(self) -> list[dict[str, Any]]:
        """All stored key rows."""
        cur = self.db.execute("SELECT * FROM keys")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # -------------------------------------------------------------- snapshots
    def save_order_meta(self, order_id: int, meta: dict[str, Any]) -> None:
        """Binance-only attributes of an order."""
        self.begin()
        self.db.execute("INSERT OR REPLACE INTO order_meta VALUES (?, ?)", (order_id, json.dumps(meta)))

    def load_order_meta(self) -> dict[int, dict[str, Any]]:
        """Order id -> meta."""
        return {int(k): json.loads(v) for k, v in self.db.execute("SELECT order_id, meta FROM order_meta")}

    def save_order(self, row: tuple[Any, ...]) -> None:
        """Upsert an order snapshot row."""
        self.begin()
        self.db.execute("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

    def save_fill(self, row: tuple[Any, ...]) -> None:
        """Insert a fill row."""
        self.begin()
        self.db.execute(
            "INSERT OR REPLACE INTO fills (account, trade_id, order_id, ts_ms, symbol, side, price, qty, quote_qty,"
            " fee, fee_asset, liquidity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )

    def save_balance(self, account: str, asset: str, free: str, locked: str) -> None:
        """Upsert one balance row."""
        self.begin()
        self.db.execute("INSERT OR REPLACE INTO balances VALUES (?, ?, ?, ?)", (account, asset, free, locked))

    def load_balances(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Account -> asset -> (free, locked) as stored."""
        out: dict[str, dict[str, tuple[str, str]]] = {}
        for account, asset, free, locked in self.db.execute("SELECT * FROM balances"):
            out.setdefault(account, {})[asset] = (free, locked)
        return out

    def save_public_id(self, account: str, trade_id: int, public_id: int) -> None:
        """Record the public trade id under which a fill went to the market's tape."""
        self.begin()
        self.db.execute("UPDATE fills SET public_id=? WHERE account=? AND trade_id=?", (public_id, account, trade_id))

    def load_public_ids(self) -> dict[int, int]:
        """Engine trade id -> public trade id of every recorded fill."""
        rows = self.db.execute("SELECT trade_id, public_id FROM fills WHERE public_id IS NOT NULL")
        return {int(t): int(p) for t, p in rows}

    def last_public_ids(self) -> dict[str, int]:
        """Highest public trade id of the recorded fills, per symbol (the tape continues above it after a restart)."""
        rows = self.db.execute("SELECT symbol, MAX(public_id) FROM fills WHERE public_id IS NOT NULL GROUP BY symbol")
        return {str(sym): int(pid) for sym, pid in rows}

    def own_prints(self) -> list[tuple[str, int, int, str, str, bool]]:
        """Every recorded fill that went to the tape, by public id: ``(symbol, id, ts, price, qty, buyer_maker)``.

        A restart puts them back on the regenerated tape under their ids (the buyer is the maker
        when a buy filled as maker or a sell as taker).
        """
        rows = self.db.execute(
            "SELECT symbol, public_id, ts_ms, price, qty, side, liquidity FROM fills WHERE public_id IS NOT NULL"
            " ORDER BY symbol, public_id"
        )
        return [(str(s), int(i), int(t), str(p), str(q), (side == "buy") == (liq == "maker"))
                for s, i, t, p, q, side, liq in rows]  # fmt: skip

    def save_withdrawal(
        self,
        wid: str,
        account: str,
        asset: str,
        amount: str,
        address: str,
        ts_ms: int,
        network: str = "",
        fee: str = "0",
    ) -> None:
        """Record a withdrawal."""
        self.begin()
        self.db.execute(
            "INSERT INTO withdrawals (id, account, asset, amount, address, ts_ms, network, fee)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (wid, account, asset, amount, address, ts_ms, network, fee),
        )

    def withdrawals(self, account: str) -> list[tuple[Any, ...]]:
        """Withdrawals of one account: ``(id, account, asset, amount, address, ts_ms, network, fee)``."""
        return self.db.execute(
            "SELECT id, account, asset, amount, address, ts_ms, network, fee FROM withdrawals"
            " WHERE account=? ORDER BY ts_ms",
            (account,),
        ).fetchall()
