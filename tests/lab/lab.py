"""The test lab: a private in-process localnet per test, real ccxt over loopback, never a mock.

:func:`open_lab` starts a localnet on 127.0.0.1 (stepped clock from the start of the wall clock's
current minute, seed 7, 30 minutes of history,
limits out of the way unless asked otherwise) with its state and request log under ``tmp/ln``,
points ``KIT_HOME`` (journal, budgets, kill switch) at ``tmp/home`` and ``KIT_LOCALNET_URL`` and
the trading and reading keys' variables at the localnet, and hands out Sessions on a journal
under ``tmp``. On exit it closes them, checks that nothing leaked (below), stops the server and
restores the environment. The Session tests (``tests/session/conftest.py``), the chaos suite,
reconciliation and alerting all use it.

No key or secret of the localnet may appear (:meth:`Lab.leaks`) in any file written under
``tmp`` (the kit's and the localnet's request logs, the journal's bytes with its WAL, ``KIT_HOME``)
except the localnet's own key stores, in ``repr`` of a Session opened through the lab, or in
``str``/``repr``/traceback of an exception caught with :meth:`Lab.raises`.
"""

from __future__ import annotations

import json
import os
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
from kit.safety.stages import Stage
from kit.session import Session
from lab.secretscan import KEY_STORES, scan_bytes, scan_for_secrets

__all__ = ["BIG_LIMITS", "Lab", "align_minute", "open_lab"]

#: Limits no test reaches by accident (a test about limits passes its own).
BIG_LIMITS = LimitsConfig(
    weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9
)
#: Environment variables cleared when a lab opens, so that the caller's own setup cannot leak in.
_CLEARED_PREFIXES = ("KIT_LOCALNET_", "KIT_KILL", "KIT_ALERT_")


def request_for(call: Any, seconds: float) -> tuple[int, list[str]]:
    """Call ``call()`` again and again for ``seconds`` of wall time: (calls made, the first error if one).

    The workload of the multi-process rate-budget tests: every error is reported (and fails the test).
    """
    n, errors = 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            call()
            n += 1
        except Exception as exc:  # reported, and the test fails on it
            errors.append(f"{type(exc).__name__}: {exc}")
            break
    return n, errors


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
        """A Session on this localnet (journal under ``tmp``, no ``.env``); closed when the lab ends."""
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
        """A plain synchronous ccxt client on this localnet: the exchange's own view."""
        return self.net.client(name, enableRateLimit=False)

    # -- the secret scan -----------------------------------------------------------------------------
    def close_sessions(self) -> None:
        """Close every Session opened through the lab (idempotent)."""
        for s in self.sessions:
            s.close()

    def written_files(self) -> list[Path]:
        """Every file under ``tmp`` that the kit, the localnet or the test wrote, except the localnet's key stores."""
        return sorted(p for p in self.tmp.rglob("*") if p.is_file() and not p.name.startswith(KEY_STORES))

    def leaks(self) -> list[str]:
        """Where a key or secret of this localnet shows up (empty list: nowhere; see the module docstring)."""
        secrets = self.secrets()
        found = scan_for_secrets(self.written_files(), secrets)
        for s in self.sessions:
            found += [f"repr(session) holds the {hit}" for hit in scan_bytes(repr(s).encode(), secrets)]
        for exc in self.caught:
            text = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
            found += [f"{type(exc).__name__} text holds the {hit}" for hit in scan_bytes(text.encode(), secrets)]
        return found


@contextmanager
def open_lab(tmp: Path, monkeypatch: pytest.MonkeyPatch | None = None, **config: Any) -> Iterator[Lab]:
    """Start a localnet in this process and point the environment at it (see the module docstring).

    Parameters
    ----------
    tmp
        The test's folder (``tmp_path``): localnet state, ``KIT_HOME`` and the journal go under it.
    monkeypatch
        The test's ``monkeypatch``, to set the environment through; without one the lab uses its
        own and undoes it on exit.
    **config
        :class:`~kit.localnet.LocalnetConfig` fields that replace the lab's defaults.

    Examples
    --------
    >>> with open_lab(tmp_path) as lab:  # doctest: +SKIP
    ...     lab.session().place("BTC/USDT", "buy", "0.001", price="50000")
    """
    own = monkeypatch is None
    mp = pytest.MonkeyPatch() if monkeypatch is None else monkeypatch
    cfg: dict[str, Any] = dict(stepped=True, seed=7, history_minutes=30, state_dir=tmp / "ln", limits=BIG_LIMITS)
    cfg.update(config)
    if cfg["stepped"] and cfg.get("start_ms") is None:
        # A stepped clock starts at the start of the wall clock's minute, not at the wall clock: the synthetic
        # market plans each minute's prints when the minute starts, from the last price (an injected print's
        # included), so whether a test's steps crossed into a new minute depended on the second it ran in.
        now = int(time.time() * 1000)
        cfg["start_ms"] = now - now % 60_000
    net = start(port=0, config=LocalnetConfig(**cfg))
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    lab = Lab(net=net, tmp=tmp, home=home, journal_path=tmp / "j.sqlite", monkeypatch=mp)
    try:
        for var in [k for k in os.environ if k.startswith(_CLEARED_PREFIXES)]:
            mp.delenv(var)
        mp.setenv("KIT_HOME", str(home))
        mp.setenv("KIT_LOCALNET_URL", net.url)
        lab.use_key("trader")
        lab.use_key("reader", slot="KIT_LOCALNET_READER")
        yield lab
        lab.close_sessions()
        assert lab.leaks() == []
    finally:
        lab.close_sessions()
        if any(getattr(s, "stage", None) is Stage.PAPER for s in lab.sessions):
            # the process's paper venue mirrors this localnet: stop its feed before the localnet stops
            from kit.paper.venue import close_paper_venues

            close_paper_venues()
        net.stop()
        if own:
            mp.undo()
