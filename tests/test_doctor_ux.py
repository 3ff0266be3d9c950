"""``kit doctor`` says each thing once (#17.8): an unreachable exchange's advice is in the fix line only."""

from __future__ import annotations

from pathlib import Path

from kit.errors import ExchangeUnavailable
from kit.journal.journal import Journal
from kit.ops.doctor import _from_journal, render


def test_the_backoff_advice_is_printed_once(tmp_path: Path) -> None:
    exc = ExchangeUnavailable("load_markets failed: binance GET https://api.binance.com/api/v3/exchangeInfo")
    checks = _from_journal(Journal(tmp_path / "journal.sqlite"), 0, exc)
    connection = next(c for c in checks if c.name == "connection")
    assert connection.ok is False and "exchangeInfo" in connection.detail
    assert exc.hint and exc.hint not in connection.detail and connection.fix == exc.hint
    assert render(checks).count(exc.hint.split(";")[0]) == 1
