"""On-disk layout: Hive partitions other engines read as is, the schema, the ledger file, SQL, put/append."""

from __future__ import annotations

import json
import mmap
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_helpers import MIN, T0, LocalnetSource, make_candles, ts

from kit.localnet.server import Localnet
from kit.store import Store
from kit.store.ledger import KNOWN, Ledger
from kit.store.parquet import read_part

DAY = 1440 * MIN


@pytest.fixture(scope="module")
def filled(synth_net: Localnet, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Two symbols, two timeframes, across a month boundary (Feb/Mar 2024)."""
    root = tmp_path_factory.mktemp("layout")
    net_src = LocalnetSource(synth_net)
    store = Store(root, source=net_src)
    store.candles("BTC/USDT", "1m", ts(T0 - 2 * DAY), ts(T0 - MIN * 5), progress=False)
    store.candles("ETH/USDT", "1m", ts(T0 - DAY), ts(T0 - MIN * 5), progress=False)
    store.candles("BTC/USDT", "1h", ts(T0 - 2 * DAY), ts(T0 - 60 * MIN), progress=False)
    store.put(make_candles(120), "BTC/USDT", "1m", venue="imported")  # March, another venue
    return store


def test_hive_layout_and_schema(filled: Store) -> None:
    root = filled.root
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert files == [
        "candles/venue=imported/symbol=BTC_USDT/timeframe=1m/period=2024-03/part.parquet",
        "candles/venue=localnet/symbol=BTC_USDT/timeframe=1h/period=2024-02/part.parquet",
        "candles/venue=localnet/symbol=BTC_USDT/timeframe=1m/period=2024-02/part.parquet",
        "candles/venue=localnet/symbol=ETH_USDT/timeframe=1m/period=2024-02/part.parquet",
    ]
    f = pq.ParquetFile(root / files[2])
    assert f.schema_arrow.remove_metadata() == pa.schema(
        [pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False)]
        + [pa.field(c, pa.float64(), nullable=False) for c in ("open", "high", "low", "close", "volume")]
    )
    part = read_part(root / files[2])  # the fast path: columns are views of the mapped file
    assert isinstance(getattr(part.times.base, "obj", None), mmap.mmap) and "foreign" not in part.meta
    meta = json.loads(f.schema_arrow.metadata[b"kit.store"])
    assert meta["rows"] == f.metadata.num_rows == 2 * 1440 - 5 and meta["ohlc_issues"] == 0
    assert meta["symbol"] == "BTC/USDT" and meta["timeframe"] == "1m"
    ledger = json.loads((root / "candles/venue=localnet/symbol=BTC_USDT/timeframe=1m/_coverage.json").read_text())
    assert ledger["symbol"] == "BTC/USDT" and ledger["spans"][0][:3] == [T0 - 2 * DAY, T0 - 5 * MIN, "stored"]


def test_other_engines_read_the_tree_as_is(filled: Store) -> None:
    root = (filled.root / "candles").as_posix()
    con = duckdb.connect()
    n = con.execute(
        f"select venue, symbol, timeframe, count(*) from read_parquet('{root}/**/*.parquet', "
        "hive_partitioning=true) group by all order by all"
    ).fetchall()
    assert n == [
        ("imported", "BTC_USDT", "1m", 120),
        ("localnet", "BTC_USDT", "1h", 47),
        ("localnet", "BTC_USDT", "1m", 2875),
        ("localnet", "ETH_USDT", "1m", 1435),
    ]
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table(filter=(ds.field("symbol") == "ETH_USDT"))
    assert table.num_rows == 1435 and set(table.column("timeframe").to_pylist()) == {"1m"}


def test_sql_view_across_symbols(filled: Store) -> None:
    out = filled.sql(
        "select venue, symbol, timeframe, count(*) as n, min(time) as first from candles "
        "where venue = 'localnet' group by all order by symbol, timeframe"
    )
    assert out.symbol.tolist() == ["BTC/USDT", "BTC/USDT", "ETH/USDT"]
    assert out.n.tolist() == [47, 2875, 1435]
    assert out["first"].iloc[0] == ts(T0 - 2 * DAY)
    ret = filled.sql("select symbol, sum(volume) v from candles where timeframe = ? group by 1 order by 1", ["1m"])
    assert len(ret) == 2
    assert Store(filled.root / "nothing").sql("select count(*) n from candles").n.iloc[0] == 0


def test_hourly_candles_equal_the_exchange_and_resampled_minutes(filled: Store, synth_net: Localnet) -> None:
    native = filled.candles("BTC/USDT", "1h", ts(T0 - 2 * DAY), ts(T0 - 60 * MIN))
    built = filled.candles("BTC/USDT", "1h", ts(T0 - 2 * DAY), ts(T0 - 60 * MIN), resample_from="1m")
    assert len(native) == 47
    pd.testing.assert_frame_equal(native[["open", "high", "low", "close"]], built[["open", "high", "low", "close"]])
    np.testing.assert_allclose(native.volume, built.volume, rtol=1e-9)


def test_ls_and_coverage_figure(filled: Store) -> None:
    ls = filled.ls()
    assert ls[["venue", "symbol", "timeframe", "candles"]].values.tolist() == [
        ["imported", "BTC/USDT", "1m", 120],
        ["localnet", "BTC/USDT", "1h", 47],
        ["localnet", "BTC/USDT", "1m", 2875],
        ["localnet", "ETH/USDT", "1m", 1435],
    ]
    assert (ls.bytes > 0).all() and (ls.files == 1).all()
    fig = filled.coverage_figure("BTC/USDT", "1m", venue="localnet", start=ts(T0 - 3 * DAY), end=ts(T0))
    assert {t.name for t in fig.data} == {"stored", "missing"}
    cov = filled.coverage("BTC/USDT", "1m", venue="localnet", start=ts(T0 - 3 * DAY), end=ts(T0))
    assert cov.status.tolist() == ["missing", "stored", "missing"]


def test_put_then_append_a_day_rewrites_one_partition(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = make_candles(3 * 1440)
    assert store.put(first, "BTC/USDT", "1m", venue="imported") == 1
    nxt = make_candles(1440, start_ms=T0 + 3 * DAY, seed=9)
    files = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}
    assert store.put(nxt, "BTC/USDT", "1m", venue="imported") == 1
    assert [p for p in files if p.stat().st_mtime_ns != files[p]] == list(files)
    back = store.candles("BTC/USDT", "1m", ts(T0), ts(T0 + 4 * DAY), venue="imported")
    pd.testing.assert_frame_equal(back, pd.concat([first, nxt]), check_freq=False)
    assert store.coverage("BTC/USDT", "1m", venue="imported").status.tolist() == ["stored"]


def test_put_keeps_holes_as_missing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put(make_candles(100, holes=[(10, 20)]), "BTC/USDT", "1m", venue="imported")
    cov = store.coverage("BTC/USDT", "1m")
    assert cov.status.tolist() == ["stored", "missing", "stored"]  # an import cannot confirm downtime


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(1, 20), st.sampled_from(["stored", "empty", "failed", "missing"])),
        max_size=25,
    )
)
def test_ledger_invariants(marks: list[tuple[int, int, str]]) -> None:
    led = Ledger("localnet", "BTC/USDT", "1m")
    truth = ["missing"] * 100
    for a, n, status in marks:
        led.mark(a * MIN, (a + n) * MIN, status)
        truth[a : a + n] = [status] * n
    spans = led.spans
    assert all(s.start < s.end for s in spans)
    assert all(x.end <= y.start for x, y in zip(spans, spans[1:], strict=False))
    assert all(
        not (x.end == y.start and x.status == y.status and x.note == y.note)
        for x, y in zip(spans, spans[1:], strict=False)
    )
    got = ["missing"] * 100
    for s in spans:
        got[s.start // MIN : s.end // MIN] = [s.status] * ((s.end - s.start) // MIN)
    assert got == truth
    unknown = {m for a, b in led.unknown(0, 100 * MIN) for m in range(a // MIN, b // MIN)}
    assert unknown == {i for i, x in enumerate(truth) if x not in KNOWN}
    assert led.stored_candles() == truth.count("stored")
    again = Ledger("localnet", "BTC/USDT", "1m")
    again.spans = [type(s)(*json.loads(json.dumps(list(s.__dict__.values())))) for s in spans]
    assert again.spans == spans
