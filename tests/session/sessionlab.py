"""The Session test lab: a private localnet per test, real ccxt over loopback, never a mock.

Each test gets its own localnet (stepped clock, big limits unless asked otherwise) with its state
and request log under ``tmp_path``, ``KIT_HOME`` in ``tmp_path`` (journal, budgets, kill switch),
and the Session's keys in the environment (``KIT_LOCALNET_URL``, ``KIT_LOCALNET_API_KEY`` ...).

After every test the lab checks that no key or secret of the localnet appears in: the kit's
request log, the localnet's request log, the journal's bytes (database and WAL), ``repr`` of every
Session opened, and ``str``/``repr``/traceback of every exception caught with :meth:`Lab.raises`.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kit.localnet import LimitsConfig, LocalnetConfig
from kit.localnet.server import Localnet, start
from kit.session import Session

BIG_LIMITS = LimitsConfig(
    weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9
)


def align_minute(net: Localnet, speed: int) -> None:
    """Put a localnet running at ``speed`` x real time on windows of ``60/speed`` wall seconds.

    The server counts weight per simulated minute; after this, simulated minute ``n`` starts exactly
    when wall time crosses a multiple of ``60000/speed`` ms, which is where a client budget with
    ``window_s=60/speed`` rolls too.
    """

    def align(v: Any) -> int:
        wall = time.time_ns() // 1_000_000
        sim = v.clock.now_ms()
        k = (speed * wall - sim) // 60_000
        return int(v.clock.set(speed * wall - 60_000 * k))

    net.call(align)


@dataclass
class Lab:
    """One test's localnet, state directories and bookkeeping."""

    net: Localnet
    tmp: Path
    home: Path
    journal_path: Path
    monkeypatch: pytest.MonkeyPatch
    sessions: list[Session] = field(default_factory=list)
    caught: list[BaseException] = field(default_factory=list)

    # -- keys ----------------------------------------------------------------------------------------
    def use_key(self, name: str, *, slot: str = "KIT_LOCALNET") -> str:
        """Put localnet key ``name`` in the environment under ``slot`` (``KIT_LOCALNET_READER`` for read_only)."""
        key, secret = self.net.credentials(name)
        self.monkeypatch.setenv(f"{slot}_API_KEY", key)
        self.monkeypatch.setenv(f"{slot}_API_SECRET", secret)
        return key

    def secrets(self) -> list[str]:
        """Every key and secret of this localnet (what must never be written anywhere)."""
        out: list[str] = []
        for name in self.net.keys:
            out.extend(self.net.credentials(name))
        return out

    # -- sessions ------------------------------------------------------------------------------------
    def session(self, **kw: Any) -> Session:
        """A Session on this localnet (journal in tmp, no .env); closed after the test."""
        kw.setdefault("journal", self.journal_path)
        kw.setdefault("dotenv", None)
        s = Session("localnet", **kw)
        self.sessions.append(s)
        return s

    @contextmanager
    def raises(self, exc_type: type[BaseException] | tuple[type[BaseException], ...], **kw: Any) -> Iterator[Any]:
        """``pytest.raises`` that also keeps the exception for the end-of-test secret scan."""
        with pytest.raises(exc_type, **kw) as info:
            yield info
        self.caught.append(info.value)

    # -- the exchange's view -------------------------------------------------------------------------
    def server_log(self) -> list[dict[str, Any]]:
        """The localnet's request log, one dict per request (status -1: a dropped response)."""
        path = self.tmp / "ln" / "requests.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def server_count(self) -> int:
        """How many requests reached the localnet so far."""
        return len(self.server_log())

    def kit_log(self) -> list[dict[str, Any]]:
        """The kit's own request log (next to the journal)."""
        out: list[dict[str, Any]] = []
        for p in sorted((self.journal_path.parent / "logs").glob("requests.jsonl*")):
            if p.suffix != ".lock":
                out.extend(json.loads(line) for line in p.read_text().splitlines() if line.strip())
        return out

    def client(self, name: str = "trader") -> Any:
        """A plain sync ccxt client on this localnet, to look at the exchange's side."""
        return self.net.client(name, enableRateLimit=False)

    # -- the secret scan -----------------------------------------------------------------------------
    def written_files(self) -> list[Path]:
        """Every file the kit or the localnet wrote that may hold text from a request or an error."""
        files = [p for p in (self.journal_path.parent / "logs").glob("requests.jsonl*") if p.is_file()]
        files += [p for p in self.tmp.glob(self.journal_path.name + "*") if p.is_file()]
        files += [p for p in self.home.rglob("*") if p.is_file()]
        log = self.tmp / "ln" / "requests.log"
        if log.exists():
            files.append(log)
        return files

    def leaks(self) -> list[str]:
        """Where a key or secret of this localnet shows up (empty list: nowhere)."""
        secrets = self.secrets()
        found: list[str] = []
        for p in self.written_files():
            data = p.read_bytes()
            found += [f"{p.name} holds a key/secret" for s in secrets if s.encode() in data]
        for s in self.sessions:
            found += [f"repr(session) holds {v[:4]}..." for v in secrets if v in repr(s)]
        for exc in self.caught:
            text = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
            found += [f"{type(exc).__name__} text holds {v[:4]}..." for v in secrets if v in text]
        return found


@contextmanager
def open_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> Iterator[Lab]:
    """Start a localnet for one test and point the environment at it."""
    cfg: dict[str, Any] = dict(stepped=True, seed=7, history_minutes=30, state_dir=tmp_path / "ln", limits=BIG_LIMITS)
    cfg.update(overrides)
    net = start(port=0, config=LocalnetConfig(**cfg))
    home = tmp_path / "home"
    home.mkdir()
    for var in ("KIT_KILL", "KIT_LOCALNET_READER_API_KEY", "KIT_LOCALNET_READER_API_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KIT_HOME", str(home))
    monkeypatch.setenv("KIT_LOCALNET_URL", net.url)
    lab = Lab(net=net, tmp=tmp_path, home=home, journal_path=tmp_path / "j.sqlite", monkeypatch=monkeypatch)
    lab.use_key("trader")
    lab.use_key("reader", slot="KIT_LOCALNET_READER")
    try:
        yield lab
        for s in lab.sessions:
            s.close()
        assert lab.leaks() == []
    finally:
        for s in lab.sessions:
            s.close()
        net.stop()
