"""An in-process localnet with its environment, for reliability tests that need no second process.

:func:`open_lab` starts a localnet on 127.0.0.1 (stepped clock by default, limits out of the way),
points ``KIT_HOME``, ``KIT_LOCALNET_URL`` and the trading key's variables at it for the duration,
and hands out Sessions on a journal under the given directory. On exit it closes them, stops the
server and restores the environment. :meth:`Lab.leaks` scans every file written for the
localnet's keys and secrets.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.invariants import scan_for_secrets

__all__ = ["Lab", "open_lab"]


def _big_limits() -> Any:
    from kit.localnet import LimitsConfig

    return LimitsConfig(
        weight_per_minute=10**9, sapi_weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9
    )


@dataclass
class Lab:
    """A running in-process localnet and where its client state lives."""

    net: Any
    tmp: Path
    home: Path
    journal_path: Path
    sessions: list[Any] = field(default_factory=list)

    def session(self, **kw: Any) -> Any:
        """A Session on this localnet (journal under ``tmp``, no ``.env``); closed when the lab ends."""
        from kit.session import Session

        kw.setdefault("journal", self.journal_path)
        kw.setdefault("dotenv", None)
        s = Session("localnet", **kw)
        self.sessions.append(s)
        return s

    def client(self) -> Any:
        """A plain synchronous ccxt client with the trading key: the exchange's own view."""
        return self.net.client("trader", enableRateLimit=False)

    def secrets(self) -> list[str]:
        """Every key and secret of this localnet."""
        out: list[str] = []
        for name in self.net.keys:
            out.extend(self.net.credentials(name))
        return out

    def leaks(self) -> list[str]:
        """Files under ``tmp`` (journal, kit logs, localnet request log) holding a key or secret."""
        return scan_for_secrets([self.tmp], self.secrets())


@contextlib.contextmanager
def open_lab(tmp: Path, **config: Any) -> Iterator[Lab]:
    """Start a localnet in this process and point the environment at it (see the module docstring).

    Keyword arguments override :class:`~kit.localnet.LocalnetConfig` fields (default: stepped
    clock, seed 7, 30 minutes of history, state and request log under ``tmp/ln``, no rate limits).
    """
    from kit.localnet import LocalnetConfig
    from kit.localnet.server import start

    cfg: dict[str, Any] = dict(stepped=True, seed=7, history_minutes=30, state_dir=tmp / "ln", limits=_big_limits())
    cfg.update(config)
    net = start(port=0, config=LocalnetConfig(**cfg))
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    saved = dict(os.environ)
    lab = Lab(net=net, tmp=tmp, home=home, journal_path=tmp / "journal.sqlite")
    try:
        for k in [k for k in os.environ if k.startswith(("KIT_LOCALNET_", "KIT_KILL", "KIT_ALERT_"))]:
            del os.environ[k]
        key, secret = net.credentials("trader")
        os.environ.update(
            KIT_HOME=str(home), KIT_LOCALNET_URL=net.url, KIT_LOCALNET_API_KEY=key, KIT_LOCALNET_API_SECRET=secret
        )
        yield lab
    finally:
        for s in lab.sessions:
            with contextlib.suppress(Exception):
                s.close()
        net.stop()
        os.environ.clear()
        os.environ.update(saved)
