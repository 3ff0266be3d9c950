"""An interrupted fetch resumes where it stopped: a failure after N pages, and a SIGKILLed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from store_helpers import MIN, T0, LocalnetSource, check_failed_then_resume, direct, rows_of, ts

from kit.errors import ExchangeUnavailable
from kit.localnet.server import Localnet
from kit.store import Store

START, END = T0 - 1200 * MIN, T0 - 200 * MIN  # ten pages of 100


def test_failure_after_n_pages_is_recorded_and_resumed(synth_net: Localnet, tmp_path: Path) -> None:
    failing = LocalnetSource(synth_net, max_page=100, fail_after=4)
    store = Store(tmp_path, source=failing)
    with pytest.raises(ExchangeUnavailable, match="injected"):
        store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    # the failed part shows as NaN rows offline meanwhile; a good source fetches only what is missing
    check_failed_then_resume(store, synth_net, START, END, START + 400 * MIN)


_CHILD = textwrap.dedent("""
    import os, signal, sys
    from kit.localnet.ccxt_client import connect
    from kit.store import Store
    import pandas as pd

    url, root, start, end, now, mode, n = sys.argv[1:8]
    start, end, now, n = int(start), int(end), int(now), int(n)

    class Source:
        venue = "localnet"
        max_page = 100

        def __init__(self):
            self.ex = connect(url, enableRateLimit=False)
            self.ex.load_markets()
            self.requests = 0

        def timeframes(self):
            return {"1m": 60_000}

        def has_symbol(self, symbol):
            return symbol in self.ex.markets

        def fetch_ohlcv(self, symbol, timeframe, since, limit):
            self.requests += 1
            if mode == "between-pages" and self.requests > n:
                os.kill(os.getpid(), signal.SIGKILL)
            return self.ex.fetch_ohlcv(symbol, timeframe, since=since, limit=limit)

        def now_ms(self):
            return now

    if mode == "mid-write":  # die after the temp file is written and fsynced, before os.replace
        real_replace, writes = os.replace, [0]
        def replace(src, dst):
            if str(dst).endswith("part.parquet"):
                writes[0] += 1
                if writes[0] == n:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst)
        os.replace = replace

    Store(root, source=Source()).candles("BTC/USDT", "1m", pd.Timestamp(start, unit="ms", tz="UTC"),
                                         pd.Timestamp(end, unit="ms", tz="UTC"), progress=False)
    print("finished")
""")


@pytest.mark.slow  # a child process fetching is SIGKILLed, then the fetch resumes
@pytest.mark.parametrize(("mode", "n", "resumed_pages"), [("between-pages", 4, 6), ("mid-write", 4, 7)])
def test_sigkilled_fetch_resumes_with_only_the_rest(
    synth_net: Localnet, tmp_path: Path, mode: str, n: int, resumed_pages: int
) -> None:
    root = tmp_path / "data"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, synth_net.url, str(root), str(START), str(END), str(T0), mode, str(n)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "finished" not in proc.stdout
    series = root / "candles/venue=localnet/symbol=BTC_USDT/timeframe=1m"
    leftovers = list(series.rglob(".*.tmp"))
    assert bool(leftovers) == (mode == "mid-write")
    store = Store(root, source=(src := LocalnetSource(synth_net, max_page=100)))
    before = store.coverage("BTC/USDT", "1m")
    assert before.status.tolist() == ["stored"]
    assert before.candles.iloc[0] == (n if mode == "between-pages" else n - 1) * 100
    frame = store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    assert len(src.calls) == resumed_pages
    assert rows_of(frame) == direct(src, "BTC/USDT", "1m", START, END)
    report = store.verify()
    assert report.check.tolist() == (["temp-file"] if mode == "mid-write" else [])
    assert not list(series.rglob(".*.tmp"))
    pd.testing.assert_frame_equal(frame, store.candles("BTC/USDT", "1m", ts(START), ts(END), offline=True))
    assert os.path.exists(series / "_coverage.json")
