"""Integrity: corrupt and truncated files are quarantined and refetched, never returned; rule checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from store_helpers import MIN, T0, LocalnetSource, direct, make_candles, rows_of, ts

from kit.errors import DataError
from kit.localnet.server import Localnet
from kit.store import CandleWarning, Store
from kit.store.checks import parse_page

START, END = T0 - 2 * 1440 * MIN, T0 - 60 * MIN  # Feb 27 00:00 to Feb 29 23:00: one partition
SERIES = "candles/venue=localnet/symbol=BTC_USDT/timeframe=1m"
FEB = SERIES + "/period=2024-02/part.parquet"


def _fresh(synth_net: Localnet, root: Path, **kw: Any) -> tuple[Store, LocalnetSource, pd.DataFrame]:
    src = LocalnetSource(synth_net, **kw)
    store = Store(root, source=src)
    frame = store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    return store, src, frame


def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 8] = bytes(b ^ 0x5A for b in data[mid : mid + 8])  # a few bits in a float page
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_corrupt_file_is_quarantined_and_refetched(synth_net: Localnet, tmp_path: Path, damage: str) -> None:
    store, src, original = _fresh(synth_net, tmp_path)
    path = tmp_path / FEB
    if damage == "flip":
        _flip_middle(path)
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"PAR1" + b"\x00" * 100 + b"PAR1")
    else:
        path.write_bytes(b"")
    src.calls.clear()
    with pytest.warns(CandleWarning, match="moved to .*quarantine.*fetching the range again"):
        again = store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    pd.testing.assert_frame_equal(again, original)
    assert len(src.calls) == 3  # the lost partition's range, fetched again
    quarantined = list((tmp_path / "quarantine" / SERIES / "period=2024-02").glob("part-*.parquet"))
    assert len(quarantined) == 1
    ledger = json.loads((tmp_path / SERIES / "_coverage.json").read_text())
    assert [i["kind"] for i in ledger["issues"]] == ["quarantined"]


def test_corrupt_file_offline_is_never_returned_as_data(synth_net: Localnet, tmp_path: Path) -> None:
    store, _, original = _fresh(synth_net, tmp_path)
    _flip_middle(tmp_path / FEB)
    reader = Store(tmp_path)  # no source: nothing to refetch with
    with pytest.warns(CandleWarning, match="missing until fetched again"):
        frame = reader.candles("BTC/USDT", "1m", ts(START), ts(END), offline=True)
    assert frame.empty or frame.isna().all().all()
    assert reader.coverage("BTC/USDT", "1m").status.tolist() == []  # nothing stored any more
    with pytest.raises(DataError, match="not stored"):
        reader.candles("BTC/USDT", "1m", ts(START), ts(END))
    assert len(original) == (END - START) // MIN


def test_corrupt_ledger_is_a_clear_data_error(synth_net: Localnet, tmp_path: Path) -> None:
    store, _, _ = _fresh(synth_net, tmp_path)
    (tmp_path / SERIES / "_coverage.json").write_text("{not json")
    with pytest.raises(DataError, match="coverage ledger .* unreadable") as err:
        Store(tmp_path).candles("BTC/USDT", "1m", ts(START), ts(END))
    assert "Delete that file" in str(err.value)


def test_ohlc_violations_are_stored_as_received_reported_and_warned(tmp_path: Path) -> None:
    frame = make_candles(300)
    low, high, vol = (frame[c].to_numpy().copy() for c in ("low", "high", "volume"))
    low[10] = high[10] + 5  # low above high
    vol[20] = -1.0
    high[30] = max(frame["open"].iloc[30], frame["close"].iloc[30]) - 1  # high below the body
    frame["low"], frame["high"], frame["volume"] = low, high, vol
    store = Store(tmp_path)
    assert store.put(frame, "BTC/USDT", "1m", venue="localnet") == 1
    with pytest.warns(CandleWarning, match="3 candle.* break OHLC rules"):
        back = store.candles("BTC/USDT", "1m", ts(T0), ts(T0 + 300 * MIN), venue="localnet")
    pd.testing.assert_frame_equal(back, frame, check_freq=False)  # never "repaired"
    report = store.verify()
    ohlc = report[report.check == "ohlc"]
    assert ohlc.time.tolist() == [ts(T0 + k * MIN) for k in (10, 20, 30)]
    assert "above high" in ohlc.detail.iloc[0] and "negative volume" in ohlc.detail.iloc[1]
    assert "high" in ohlc.detail.iloc[2]


def test_foreign_file_with_misaligned_rows_is_quarantined(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put(make_candles(100), "BTC/USDT", "1m", venue="localnet")
    path = tmp_path / SERIES / "period=2024-03" / "part.parquet"
    bad = make_candles(100).reset_index()
    bad["time"] = bad["time"].where(bad.index != 5, bad["time"] + pd.Timedelta(seconds=30))
    bad.to_parquet(path)  # someone wrote it by hand: no kit metadata, a row off the grid
    report = store.verify("BTC/USDT", "1m")
    assert report.check.tolist()[:2] == ["misaligned", "quarantined"]
    assert not path.exists()


def test_foreign_file_with_duplicates_is_deduplicated_and_reported(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put(make_candles(100), "BTC/USDT", "1m", venue="localnet")
    path = tmp_path / SERIES / "period=2024-03" / "part.parquet"
    dup = pd.concat([make_candles(100), make_candles(100).iloc[:3]]).reset_index()
    dup["time"] = dup["time"].astype("datetime64[ms, UTC]")
    dup.to_parquet(path)
    report = store.verify("BTC/USDT", "1m")
    assert report.check.tolist() == ["duplicate"]
    back = store.candles("BTC/USDT", "1m", ts(T0), ts(T0 + 100 * MIN))
    pd.testing.assert_frame_equal(back, make_candles(100), check_freq=False)


def test_deleted_file_is_found_by_verify_and_refetched(synth_net: Localnet, tmp_path: Path) -> None:
    store, src, original = _fresh(synth_net, tmp_path)
    (tmp_path / FEB).unlink()
    report = store.verify()
    assert set(report.check) == {"not-in-files"} and len(report) == 1000  # capped per check
    assert store.coverage("BTC/USDT", "1m").status.tolist() == []
    src.calls.clear()
    pd.testing.assert_frame_equal(store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False), original)
    assert len(src.calls) == 3


def test_temp_file_from_crashed_write_is_invisible(synth_net: Localnet, tmp_path: Path) -> None:
    store, _, original = _fresh(synth_net, tmp_path)
    stale = tmp_path / SERIES / "period=2024-02" / ".part.parquet.999.deadbeef.tmp"
    stale.write_bytes(b"half a file")
    pd.testing.assert_frame_equal(Store(tmp_path).candles("BTC/USDT", "1m", ts(START), ts(END)), original)
    assert store.sql("select count(*) n from candles").n.iloc[0] == len(original)


def test_page_anomalies_from_the_exchange_are_reported(synth_net: Localnet, tmp_path: Path) -> None:
    class Quirky(LocalnetSource):
        """Real localnet answers, then a duplicate and a misaligned row added (fault injection)."""

        def fetch_ohlcv(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[list[float]]:
            rows = super().fetch_ohlcv(symbol, timeframe, since_ms, limit)
            return [rows[0], *rows[:3], [rows[3][0] + 30_000, *rows[3][1:]], *rows[3:]]

    src = Quirky(synth_net)
    store = Store(tmp_path, source=src)
    with pytest.warns(CandleWarning) as caught:
        frame = store.candles("BTC/USDT", "1m", ts(START), ts(START + 100 * MIN), progress=False)
    texts = " | ".join(str(w.message) for w in caught)
    assert "more than once" in texts and "off the 60000 ms grid" in texts
    assert rows_of(frame) == direct(src, "BTC/USDT", "1m", START, START + 100 * MIN)
    report = store.verify()
    assert sorted(set(report.check)) == ["fetch:duplicate", "fetch:misaligned"]


def test_parse_page_rules() -> None:
    row = [0.0, 10.0, 12.0, 9.0, 11.0, 1.0]
    rows = [[t * 60_000.0, *row[1:]] for t in range(5)]
    full = parse_page(rows, since=0, end=10 * 60_000, limit=5, tf_ms=60_000, offset_ms=0, closed_end=10**12)
    assert full.covered_end == 5 * 60_000  # a full page says nothing past its last row
    short = parse_page(rows, since=0, end=10 * 60_000, limit=8, tf_ms=60_000, offset_ms=0, closed_end=10**12)
    assert short.covered_end == 10 * 60_000  # a short page: nothing more up to the exchange's now
    forming = parse_page(rows, since=0, end=10 * 60_000, limit=8, tf_ms=60_000, offset_ms=0, closed_end=3 * 60_000)
    assert forming.part.times.tolist() == [0, 60_000, 120_000] and forming.covered_end == 3 * 60_000
    bad = parse_page(
        [[0, 10, 9, 11, 10, -1]], since=0, end=60_000, limit=5, tf_ms=60_000, offset_ms=0, closed_end=10**12
    )
    assert [i["kind"] for i in bad.issues] == ["ohlc"] and len(bad.part) == 1
    nothing = parse_page([], since=0, end=600_000, limit=10, tf_ms=60_000, offset_ms=0, closed_end=10**12)
    assert nothing.covered_end == 600_000 and len(nothing.part) == 0
    assert np.isnan(np.nan)


def test_verified_file_cache_sees_a_later_change(synth_net: Localnet, tmp_path: Path) -> None:
    import os

    from kit.store import parquet

    store, _, original = _fresh(synth_net, tmp_path)
    path = tmp_path / FEB
    old = path.stat().st_mtime_ns - 10 * 10**9
    os.utime(path, ns=(old, old))  # written "long ago": its verification may be remembered
    pd.testing.assert_frame_equal(store.candles("BTC/USDT", "1m", ts(START), ts(END)), original)
    assert str(path) in parquet._VERIFIED
    _flip_middle(path)  # same size and inode, new mtime
    with pytest.warns(CandleWarning, match="quarantine"):
        store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)


def test_fresh_file_is_not_trusted_without_summing(synth_net: Localnet, tmp_path: Path) -> None:
    from kit.store import parquet

    store, _, _ = _fresh(synth_net, tmp_path)
    store.candles("BTC/USDT", "1m", ts(START), ts(END))
    assert str(tmp_path / FEB) not in parquet._VERIFIED  # changed < 2 s ago: racy, summed on every read


def _rewrite_in_place(path: Path, offset: int) -> None:
    """Flip a few bytes at ``offset`` in place (same inode, same size), then set the mtime back."""
    import os

    st = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(offset)
        chunk = fh.read(8)
        fh.seek(offset)
        fh.write(bytes(b ^ 0x5A for b in chunk))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)


def test_file_changed_in_place_with_same_size_and_mtime_is_checked_again(synth_net: Localnet, tmp_path: Path) -> None:
    # issue #13: the verified-file cache trusted (device, inode, size, mtime); a file rewritten in
    # place with its mtime set back was served unchecked. ctime (which utime cannot set back) and
    # the footer are now part of what must match.
    import os

    from kit.store import parquet

    store, _, original = _fresh(synth_net, tmp_path)
    path = tmp_path / FEB
    old = path.stat().st_mtime_ns - 10 * 10**9
    os.utime(path, ns=(old, old))
    pd.testing.assert_frame_equal(store.candles("BTC/USDT", "1m", ts(START), ts(END)), original)
    assert str(path) in parquet._VERIFIED
    _rewrite_in_place(path, path.stat().st_size // 2)
    with pytest.warns(CandleWarning, match="quarantine"):
        again = store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    pd.testing.assert_frame_equal(again, original)  # refetched, never the damaged bytes


def test_cached_file_whose_footer_changed_is_checked_again(synth_net: Localnet, tmp_path: Path) -> None:
    # where a file system keeps ctime too coarsely to move, the footer comparison still sees a
    # rewrite: here the cache entry is made to match the new stat exactly, as such a system would
    import os

    from kit.store import parquet

    store, _, original = _fresh(synth_net, tmp_path)
    path = tmp_path / FEB
    old = path.stat().st_mtime_ns - 10 * 10**9
    os.utime(path, ns=(old, old))
    store.candles("BTC/USDT", "1m", ts(START), ts(END))
    key, footer, *rest = parquet._VERIFIED[str(path)]
    _rewrite_in_place(path, path.stat().st_size - len(footer) + 20)  # inside the footer's metadata
    st = path.stat()
    parquet._VERIFIED[str(path)] = ((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns), footer, *rest)
    with pytest.warns(CandleWarning, match="quarantine"):
        again = store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    pd.testing.assert_frame_equal(again, original)


def _aged_read(synth_net: Localnet, tmp_path: Path) -> tuple[Store, pd.DataFrame, Path]:
    """A store whose February file was written "long ago" and read once (its verification recorded)."""
    import os

    store, _, original = _fresh(synth_net, tmp_path)
    path = tmp_path / FEB
    old = path.stat().st_mtime_ns - 10 * 10**9
    os.utime(path, ns=(old, old))
    pd.testing.assert_frame_equal(store.candles("BTC/USDT", "1m", ts(START), ts(END)), original)
    return store, original, path


def test_a_verified_file_version_is_recorded_beside_it_and_not_summed_again(
    synth_net: Localnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # #18: verification once per file version, recorded next to it: a new process (here: the
    # in-process cache dropped) reads the record instead of summing the file's columns again
    from kit.store import parquet

    store, original, path = _aged_read(synth_net, tmp_path)
    assert parquet.sidecar_path(path).exists()
    parquet.forget_verified()
    summed: list[int] = []
    real_sum = parquet._sum
    monkeypatch.setattr(parquet, "_sum", lambda a: summed.append(1) or real_sum(a))
    pd.testing.assert_frame_equal(store.candles("BTC/USDT", "1m", ts(START), ts(END)), original)
    assert summed == [] and str(path) in parquet._VERIFIED


def test_a_record_does_not_vouch_for_a_file_changed_in_place(synth_net: Localnet, tmp_path: Path) -> None:
    from kit.store import parquet

    store, original, path = _aged_read(synth_net, tmp_path)
    _rewrite_in_place(path, path.stat().st_size // 2)  # same inode, size and mtime; ctime moves
    parquet.forget_verified()
    with pytest.warns(CandleWarning, match="quarantine"):
        again = store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    pd.testing.assert_frame_equal(again, original)


def test_a_record_whose_footer_differs_or_that_is_garbage_is_ignored(synth_net: Localnet, tmp_path: Path) -> None:
    import json

    from kit.store import parquet

    store, original, path = _aged_read(synth_net, tmp_path)
    side = parquet.sidecar_path(path)
    rec = json.loads(side.read_text())
    footer_len = rec["footer_len"]
    _rewrite_in_place(path, path.stat().st_size - footer_len + 20)  # inside the footer's metadata
    st = path.stat()
    rec["key"] = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]  # as if ctime had not moved
    side.write_text(json.dumps(rec))
    parquet.forget_verified()
    with pytest.warns(CandleWarning, match="quarantine"):
        again = store.candles("BTC/USDT", "1m", ts(START), ts(END), progress=False)
    pd.testing.assert_frame_equal(again, original)
    for p in tmp_path.rglob(".*.verified"):
        p.write_text("{not json")
    parquet.forget_verified()
    pd.testing.assert_frame_equal(store.candles("BTC/USDT", "1m", ts(START), ts(END)), original)
