"""The frame a read returns: built from parts with one copy, checked against pandas' own constructors (#18)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kit.store.parquet import COLUMNS, Part, frame_from_parts

MIN = 60_000
T0 = 1_704_067_200_000  # 2024-01-01 UTC


def _parts(rows: int, pieces: int, seed: int = 3) -> list[Part]:
    rng = np.random.default_rng(seed)
    times = T0 + MIN * np.arange(rows, dtype=np.int64)
    close = 100 + rng.standard_normal(rows).cumsum()
    values = [close - 0.1, close + 0.5, close - 0.5, close, rng.random(rows)]
    cuts = np.linspace(0, rows, pieces + 1).astype(int)
    return [Part(times[a:b], [v[a:b] for v in values]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def _reference(parts: list[Part]) -> pd.DataFrame:
    """The same frame through pandas' public, copying constructors only."""
    times = np.concatenate([p.times for p in parts])
    index = pd.DatetimeIndex(pd.to_datetime(times, unit="ms", utc=True), name="time").as_unit("ms")
    data = {c: np.concatenate([p.values[i] for p in parts]) for i, c in enumerate(COLUMNS)}
    return pd.DataFrame(data, index=index)


# 100,000 rows (4.8 MB) take the huge-page mapping; 1,000 rows take plain numpy memory.
@pytest.mark.parametrize("rows", [1_000, 100_000])
def test_frame_matches_pandas_public_construction(rows: int) -> None:
    parts = _parts(rows, pieces=3)
    frame = frame_from_parts(parts)
    expect = _reference(parts)
    pd.testing.assert_frame_equal(frame, expect, check_freq=False)
    assert str(frame.index.dtype) == "datetime64[ms, UTC]" and frame.index.name == "time"
    assert frame.index.is_monotonic_increasing and frame.index.tz is not None
    assert frame.loc["2024-01-01 00:10", "close"] == parts[0].values[3][10]
    assert frame.index.get_loc(pd.Timestamp(T0 + 5 * MIN, unit="ms", tz="UTC")) == 5
    assert frame._mgr.nblocks == 1  # one float64 block: pandas did not split or copy it
    # the frame owns its memory: writing to it changes neither the parts nor the reference
    before = parts[0].values[3][0]
    frame.iloc[0, 3] = -1.0
    assert parts[0].values[3][0] == before and frame.iloc[0, 3] == -1.0


def test_empty_and_single_row_frames() -> None:
    empty = frame_from_parts([])
    assert list(empty.columns) == list(COLUMNS) and len(empty) == 0
    assert str(empty.index.dtype) == "datetime64[ms, UTC]"
    one = frame_from_parts(_parts(1, pieces=1))
    pd.testing.assert_frame_equal(one, _reference(_parts(1, pieces=1)), check_freq=False)


def test_a_large_frame_is_one_huge_page_aligned_buffer_without_copies() -> None:
    # #18: the (5, n) block starts on a 2 MiB boundary and the index's int64 times follow it in the
    # same buffer, so neither pandas' frame nor its index copied what frame_from_parts wrote.
    n = 100_000
    frame = frame_from_parts(_parts(n, pieces=4))
    (block,) = frame._mgr.blocks
    start = block.values.__array_interface__["data"][0]
    assert block.values.shape == (5, n) and start % (2 << 20) == 0
    assert frame.index.asi8.__array_interface__["data"][0] == start + 5 * 8 * n
    small = frame_from_parts(_parts(1_000, pieces=1))  # under 4 MB: plain numpy arrays
    assert small._mgr.blocks[0].values.shape == (5, 1_000)
    assert np.array_equal(small.index.asi8, T0 + MIN * np.arange(1_000))
