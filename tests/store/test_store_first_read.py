"""The first read's path (#18, fourth pass): whole verified partitions are read into the frame with
one ``preadv`` per file, and only while the file is still the version that was verified; anything
else is copied from the part's mapped views, as before."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.errors import ConfigError
from kit.store import Store
from kit.store import parquet as kp
from kit.store.parquet import COLUMNS, Origin, Part, frame_from_parts, read_part, write_part

MIN = 60_000
JAN = pd.Timestamp("2024-01-01", tz="UTC")
APR = pd.Timestamp("2024-04-01", tz="UTC")
SERIES = "candles/venue=bench/symbol=BTC_USDT/timeframe=1m"


def _candles(start: pd.Timestamp, end: pd.Timestamp, seed: int = 5) -> pd.DataFrame:
    index = pd.date_range(start, end, freq="1min", inclusive="left", name="time").as_unit("ms")
    rng = np.random.default_rng(seed)
    close = 100 + rng.standard_normal(len(index)).cumsum()
    cols = {"open": close - 0.1, "high": close + 0.5, "low": close - 0.5, "close": close}
    return pd.DataFrame({**cols, "volume": rng.random(len(index))}, index=index)


def _age(root: Path) -> list[Path]:
    """Set every partition's mtime 10 s back: old enough for the racy-clean rule to trust it once verified."""
    files = sorted(root.glob(SERIES + "/period=*/part.parquet"))
    for f in files:
        old = f.stat().st_mtime_ns - 10 * 10**9
        os.utime(f, ns=(old, old))
    return files


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """What each call of ``_pread_into`` answered (True: the part was read through its file)."""
    answers: list[bool] = []
    real = kp._pread_into

    def recording(*args: object) -> bool:
        answers.append(real(*args))  # type: ignore[arg-type]
        return answers[-1]

    monkeypatch.setattr(kp, "_pread_into", recording)
    kp.forget_verified()
    yield answers
    kp.forget_verified()


def _stored(tmp_path: Path) -> tuple[Store, pd.DataFrame, list[Path]]:
    frame = _candles(JAN, APR)
    store = Store(tmp_path)
    assert store.put(frame, "BTC/USDT", "1m", venue="bench") == 3
    return store, frame, _age(tmp_path)


@pytest.mark.parametrize("verified_by", ["sums", "record", "process cache"])
def test_whole_verified_partitions_are_read_into_the_frame_with_preadv(
    tmp_path: Path, spy: list[bool], verified_by: str
) -> None:
    store, frame, files = _stored(tmp_path)
    if verified_by != "sums":  # a first read has summed the files and recorded them
        store.candles("BTC/USDT", "1m", JAN, APR)
        if verified_by == "record":
            kp.forget_verified()
        spy.clear()
    got = store.candles("BTC/USDT", "1m", JAN, APR)
    pd.testing.assert_frame_equal(got, frame, check_freq=False)
    assert spy == [True, True, True]  # one preadv per partition, none copied from a mapping
    assert got._mgr.nblocks == 1 and len(files) == 3


def test_a_fresh_file_is_not_read_through_before_it_is_trusted(tmp_path: Path, spy: list[bool]) -> None:
    # Changed less than 2 s before its check: summed on every read, never remembered, and its
    # part carries no origin, so it is copied from the views that were just checked.
    frame = _candles(JAN, pd.Timestamp("2024-01-03", tz="UTC"))
    store = Store(tmp_path)
    store.put(frame, "BTC/USDT", "1m", venue="bench")
    got = store.candles("BTC/USDT", "1m", JAN, pd.Timestamp("2024-01-03", tz="UTC"))
    pd.testing.assert_frame_equal(got, frame, check_freq=False)
    assert spy == []


def test_a_file_replaced_after_the_read_keeps_the_version_that_was_read(tmp_path: Path, spy: list[bool]) -> None:
    _, frame, files = _stored(tmp_path)
    part = read_part(files[0])
    part = read_part(files[0])  # verified: the second read has an origin
    assert part.origin is not None and part.origin.path == str(files[0])
    other = Part(part.times.copy(), [v + 1000.0 for v in part.values])
    write_part(files[0], other)  # a kit write: a new inode under the same name
    got = frame_from_parts([part])
    assert spy == [False]
    jan = frame.loc[:"2024-01-31 23:59"]
    np.testing.assert_array_equal(got.to_numpy(), jan.to_numpy())  # the version read, not the new one
    np.testing.assert_array_equal(got.index.asi8, jan.index.asi8)


def test_a_file_written_in_place_after_the_read_is_not_read_through(tmp_path: Path, spy: list[bool]) -> None:
    # Another writer rewrites the same inode (same size, mtime set back): ctime moves, so the
    # stat key differs and the part is copied from its views (a shared mapping shows the bytes
    # as they are now; this pass does not change what an outside in-place write can do).
    _, _, files = _stored(tmp_path)
    read_part(files[1])
    part = read_part(files[1])
    assert part.origin is not None
    st = files[1].stat()
    with open(files[1], "r+b") as fh:
        fh.seek(part.origin.offsets[4] + 80)
        fh.write(np.float64(-7.5).tobytes())
    os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns))
    got = frame_from_parts([part])
    assert spy == [False]
    np.testing.assert_array_equal(got["close"].to_numpy(), part.values[3])
    assert got["close"].iloc[10] == -7.5  # what the views show


def test_a_partial_partition_is_copied_from_its_views(tmp_path: Path, spy: list[bool]) -> None:
    store, frame, _ = _stored(tmp_path)
    a, b = pd.Timestamp("2024-01-20", tz="UTC"), pd.Timestamp("2024-03-10", tz="UTC")
    store.candles("BTC/USDT", "1m", JAN, APR)
    spy.clear()
    got = store.candles("BTC/USDT", "1m", a, b)
    pd.testing.assert_frame_equal(got, frame.loc[a : b - pd.Timedelta(minutes=1)], check_freq=False)
    assert spy == [True]  # February whole; January's and March's slices from their views


def test_slice_returns_the_whole_part_itself_and_a_real_slice_without_origin(tmp_path: Path) -> None:
    _, _, files = _stored(tmp_path)
    kp.forget_verified()
    read_part(files[0])
    part = read_part(files[0])
    first, last = int(part.times[0]), int(part.times[-1])
    assert part.slice(first, last + MIN) is part and part.slice(first - MIN, last + 2 * MIN) is part
    inner = part.slice(first + MIN, last)
    assert inner.origin is None and len(inner) == len(part) - 2
    assert inner.times[0] == first + MIN and inner.times[-1] == last - MIN
    assert len(part.slice(last + MIN, last + 2 * MIN)) == 0 and len(part.slice(0, first)) == 0
    kp.forget_verified()


def test_pread_refuses_offsets_it_cannot_read_whole(tmp_path: Path, spy: list[bool]) -> None:
    _, frame, files = _stored(tmp_path)
    read_part(files[2])
    part = read_part(files[2])
    assert part.origin is not None
    good = part.origin
    size = good.key[2]
    n = len(part)
    cases = {
        "overlapping columns": [good.offsets[0] + 8 * i for i in range(6)],
        "a gap too large": [*good.offsets[:5], good.offsets[5] + kp._MAX_GAP + 8],
        "past the end of the file (short read)": [size - 48 * n - 155 + 64 + i * (8 * n + 31) for i in range(6)],
        "five columns": list(good.offsets[:5]),
    }
    march = frame.loc["2024-03-01":].to_numpy()  # type: ignore[misc]
    for name, offsets in cases.items():
        part.origin = Origin(good.path, good.key, offsets)
        got = frame_from_parts([part])
        assert spy[-1] is False, name
        np.testing.assert_array_equal(got.to_numpy(), march, err_msg=name)
    part.origin = Origin(str(tmp_path / "gone.parquet"), good.key, good.offsets)  # the path is gone
    np.testing.assert_array_equal(frame_from_parts([part]).to_numpy(), march)
    assert spy[-1] is False
    part.origin = good
    np.testing.assert_array_equal(frame_from_parts([part]).to_numpy(), march)
    assert spy[-1] is True


def test_frames_do_not_share_their_column_labels(tmp_path: Path) -> None:
    _, _, files = _stored(tmp_path)
    a = frame_from_parts([read_part(files[0])])
    b = frame_from_parts([read_part(files[0])])
    assert a.columns is not b.columns
    a.columns.name = "field"
    a.columns = ["o", "h", "l", "c", "v"]
    assert b.columns.name is None and list(b.columns) == list(COLUMNS)
    assert b.columns.dtype == pd.Index(list(COLUMNS)).dtype
    pd.testing.assert_index_equal(b.columns, pd.Index(list(COLUMNS)), exact=True)


def test_venues_are_found_by_listing_the_layout(tmp_path: Path) -> None:
    frame = _candles(JAN, pd.Timestamp("2024-01-02", tz="UTC"))
    store = Store(tmp_path)
    store.put(frame, "BTC/USDT", "1m", venue="bench")
    store.put(frame.iloc[::60], "ETH/USDT", "1h", venue="other")
    (tmp_path / "candles" / "venue=stray").write_text("not a directory")
    (tmp_path / "candles" / "venue=empty" / "symbol=BTC_USDT").mkdir(parents=True)  # no timeframe under it
    got = store.candles("BTC/USDT", "1m", JAN, pd.Timestamp("2024-01-02", tz="UTC"))
    pd.testing.assert_frame_equal(got, frame, check_freq=False)
    assert store._stored_venues("BTC/USDT", "1m") == ["bench"] and store._stored_venues("BTC/USDT", "1h") == []
    store.put(frame, "BTC/USDT", "1m", venue="other")
    with pytest.raises(ConfigError, match="several venues: bench, other"):
        store.candles("BTC/USDT", "1m", JAN, pd.Timestamp("2024-01-02", tz="UTC"))
    assert store._stored_venues("BTC/USDT", None) == ["bench", "other"]
    assert Store(tmp_path / "nothing")._stored_venues("BTC/USDT", None) == []


def test_a_small_frame_is_read_through_its_files_too(tmp_path: Path, spy: list[bool]) -> None:
    # Under 4 MB the frame's arrays are plain numpy ones (not the huge-page buffer): 1h candles,
    # one month-partition each of 744, 696 and 744 rows.
    frame = _candles(JAN, APR).iloc[::60]
    store = Store(tmp_path)
    assert store.put(frame, "BTC/USDT", "1h", venue="bench") == 3
    for f in sorted(tmp_path.glob("candles/venue=bench/symbol=BTC_USDT/timeframe=1h/period=*/part.parquet")):
        old = f.stat().st_mtime_ns - 10 * 10**9
        os.utime(f, ns=(old, old))
    store.candles("BTC/USDT", "1h", JAN, APR)  # verifies and records them
    spy.clear()
    got = store.candles("BTC/USDT", "1h", JAN, APR)
    pd.testing.assert_frame_equal(got, frame, check_freq=False)
    assert spy == [True, True, True] and len(got) == 2184


@pytest.mark.parametrize("verified_by", ["record", "process cache"])
def test_a_trusted_partition_is_not_mapped_unless_its_views_are_asked_for(
    tmp_path: Path, spy: list[bool], verified_by: str
) -> None:
    _, frame, files = _stored(tmp_path)
    read_part(files[0])  # sums, records and remembers it
    if verified_by == "record":
        kp.forget_verified()
    part = read_part(files[0])
    assert not part.mapped and part.origin is not None and part.origin.file is not None
    jan = frame.loc[:"2024-01-31 23:59"]
    assert (part.first(), part.last()) == (jan.index.asi8[0], jan.index.asi8[-1])  # read from the file
    assert len(part) == len(jan) and part.slice(part.first(), part.last() + MIN) is part
    got = frame_from_parts([part])
    assert spy == [True] and not part.mapped  # the frame was read with preadv, nothing mapped
    np.testing.assert_array_equal(got.to_numpy(), jan.to_numpy())
    np.testing.assert_array_equal(part.times, jan.index.asi8)  # asked for: mapped now
    assert part.mapped and np.array_equal(part.values[3], jan["close"].to_numpy())
    inner = part.slice(part.first() + MIN, part.last())
    assert inner.mapped and len(inner) == len(jan) - 2


def test_a_trusted_file_cut_short_after_the_read_is_an_error_not_a_crash(tmp_path: Path, spy: list[bool]) -> None:
    # An outside writer truncates a verified file after the read opened it (a kit write never
    # does: it replaces the inode). Mapping it and reading past its end would kill the process
    # (SIGBUS); the part says the file is corrupt instead.
    _, _, files = _stored(tmp_path)
    read_part(files[1])
    part = read_part(files[1])
    assert not part.mapped
    os.truncate(files[1], part.origin.offsets[0] + 16 if part.origin else 0)  # two rows of times left
    with pytest.raises(kp.CorruptFile, match="shorter than the version that was verified"):
        part.last()
    with pytest.raises(kp.CorruptFile, match="shorter than the version that was verified"):
        frame_from_parts([part])
    assert spy == [False]  # the stat key changed: not read through, and not mapped past the end


def test_a_store_read_quarantines_a_file_cut_short_between_open_and_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same truncation, between the read opening the trusted file and its bounds check:
    # the partition is quarantined like any corrupt file, and its candles are missing.
    from kit.store import CandleWarning
    from kit.store import series as ks

    store, frame, files = _stored(tmp_path)
    store.candles("BTC/USDT", "1m", JAN, APR)
    real = ks.read_part

    def read_then_cut(path: Path) -> Part:
        part = real(path)
        if path == files[1]:
            os.truncate(path, 100)
        return part

    monkeypatch.setattr(ks, "read_part", read_then_cut)
    with pytest.warns(CandleWarning, match="shorter than the version that was verified"):
        got = store.candles("BTC/USDT", "1m", JAN, APR, offline=True)
    assert not files[1].exists() and any((tmp_path / "quarantine").rglob("part-*.parquet"))
    feb = (got.index >= "2024-02-01") & (got.index < "2024-03-01")
    assert got[feb].isna().all().all() and got[~feb].notna().all().all()
    pd.testing.assert_frame_equal(got[~feb], frame[~feb], check_freq=False)


def test_running_out_of_file_descriptors_is_an_error_and_never_a_quarantine(tmp_path: Path) -> None:
    """EMFILE while opening a partition says what to do; the good files stay where they are (not quarantined)."""
    import subprocess
    import sys
    import textwrap

    _, frame, files = _stored(tmp_path)
    script = textwrap.dedent(f"""
        import os, resource
        import pandas as pd
        from kit.store import Store
        store = Store({str(tmp_path)!r})
        jan, apr = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-04-01", tz="UTC")
        store.candles("BTC/USDT", "1m", jan, jan + pd.Timedelta(hours=1), venue="bench")  # listing and ledger read
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) - 1, hard))  # listdir holds one
        try:
            store.candles("BTC/USDT", "1m", jan, apr, venue="bench")
            print("read")
        except Exception as exc:
            print(type(exc).__name__, "|", exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.startswith("StoreUnreadable | "), out.stdout + out.stderr
    assert "Too many open files" in out.stdout and "ulimit -n" in out.stdout and "Nothing was moved" in out.stdout
    assert not (tmp_path / "quarantine").exists() and all(f.exists() for f in files)
    cold = script.replace('store.candles("BTC/USDT", "1m", jan, jan + pd.Timedelta(hours=1), venue="bench")', "")
    out = subprocess.run([sys.executable, "-c", cold], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.startswith("StoreUnreadable | cannot read the coverage ledger"), out.stdout + out.stderr
    kp.forget_verified()
    got = Store(tmp_path).candles("BTC/USDT", "1m", JAN, APR, venue="bench")
    pd.testing.assert_frame_equal(got, frame, check_freq=False)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd (Linux)")
@pytest.mark.parametrize("verified_by", ["sums", "process cache"])
def test_a_read_of_many_partitions_holds_a_bounded_number_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verified_by: str
) -> None:
    """Past ``HELD_FILES_MAX`` parts, a read copies each part at once and closes its file.

    Every part holds its file (a descriptor, or a mapping's duplicate) until the frame is built: a
    read of 300 daily partitions of 1s candles had 306 descriptors open at its peak, and under a
    limit of 256 it ran the process up to descriptor 255, where any other open of the process (a
    socket, the journal) fails. With the cap (64) the same read peaks at 71. Here the cap is 1 and
    three partitions are read: the descriptors open when each partition is opened stay flat, where
    without the cap they grow by one per partition, and the frame is the same.
    """
    import kit.store.series as ks

    store, frame, _ = _stored(tmp_path)
    if verified_by == "process cache":  # trusted parts: copied with preadv, never mapped
        store.candles("BTC/USDT", "1m", JAN, APR)

    def held_at_each_open() -> list[int]:
        counts: list[int] = []
        real = kp._open_ro

        def counting(path: Path) -> int:
            fd = real(path)
            counts.append(len(os.listdir("/proc/self/fd")) - 1)  # listdir's own descriptor aside
            return fd

        with monkeypatch.context() as m:
            m.setattr(kp, "_open_ro", counting)
            got = store.candles("BTC/USDT", "1m", JAN, APR)
        pd.testing.assert_frame_equal(got, frame, check_freq=False)
        return [c - counts[0] for c in counts]

    assert held_at_each_open() == [0, 1, 2]  # the default cap (64): every part keeps its file
    monkeypatch.setattr(ks, "HELD_FILES_MAX", 1)
    assert held_at_each_open() == [0, 1, 1]  # the first part keeps its file, the others are copied
