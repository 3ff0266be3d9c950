"""Parquet I/O of the candle store: atomic writes, checked reads, quarantine, frame assembly.

One file per partition (see :mod:`kit.store.paths`), one row group, columns ``time``
(``timestamp[ms, UTC]``), ``open``, ``high``, ``low``, ``close``, ``volume`` (``float64``),
uncompressed PLAIN pages with CRC32 page checksums. Why uncompressed: candle floats barely
compress (a year of 1m candles is 25 MB plain, 17 MB snappy), and decoding is the read path's
cost; the checksums give back what compression would have caught, and more (a flipped bit in a
plain page is otherwise invisible).

Writes are atomic: a temp file in the same directory (name starts with ``.``, so no reader's
``*.parquet`` glob sees it), ``fsync``, ``os.replace``, ``fsync`` of the directory. A crash leaves
either the old file or the new one, never a half-written one under the real name.

Every file carries ``kit.store`` key-value metadata (JSON: rows, first and last open time, count
of OHLC violations); a read checks it against the data, so a file that parses but was cut or
altered is caught too.
"""

from __future__ import annotations

import errno
import hashlib
import json
import mmap
import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

# pandas_compat and vendored.version: the first frame a process builds has pandas import them
# lazily (for its pyarrow-backed string column labels), part of a year's first read in a fresh
# process (#18); imported with the store, a notebook pays them once, at import.
import pyarrow.pandas_compat  # noqa: F401
import pyarrow.parquet as pq
import pyarrow.vendored.version  # noqa: F401

from kit.errors import DataError
from kit.store import paths

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "CorruptFile",
    "Part",
    "atomic_write_bytes",
    "frame_from_parts",
    "ohlc_mask",
    "quarantine",
    "read_part",
    "write_part",
]

COLUMNS = ("open", "high", "low", "close", "volume")
SCHEMA = pa.schema(
    [pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False)]
    + [pa.field(c, pa.float64(), nullable=False) for c in COLUMNS]
)
META_KEY = b"kit.store"
FORMAT_VERSION = 1
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "none",
    "use_dictionary": False,
    "write_statistics": ["time"],
    "write_page_checksum": True,
    "store_schema": True,  # also carries the kit.store key-value metadata
    # One data page per column: the values of a column are one contiguous run in the file, which
    # the fast read path maps without decoding (see read_part).
    "data_page_size": 1 << 30,
    "max_rows_per_page": 1 << 30,
}

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class CorruptFile(DataError):
    """A stored file cannot be read back as the candles that were written."""

    hint = "The file is moved to quarantine/ and the range is fetched again on the next call with a source."


class StoreUnreadable(DataError):
    """A stored file could not be opened or read for a reason outside it (open-file limit, memory, permissions).

    The file is not corrupt and is left where it is (never quarantined).
    """

    hint = (
        "Nothing was moved or deleted. Raise the open-file limit (`ulimit -n`), free memory, or fix the "
        "permissions, then read again; or read a shorter range."
    )


#: ``OSError`` numbers that say nothing about the file's content: never a reason to quarantine it.
NOT_THE_FILE = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EACCES, errno.EPERM, errno.EAGAIN,
                           errno.EINTR})  # fmt: skip


def _open_ro(path: Path) -> int:
    """``os.open`` for reading; a failure that is not the file's (``NOT_THE_FILE``) as :class:`StoreUnreadable`."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in NOT_THE_FILE:
            raise StoreUnreadable(f"cannot open {path}: {exc.strerror} (errno {exc.errno})") from exc
        raise


def ohlc_mask(values: Sequence[F64]) -> npt.NDArray[np.bool_]:
    """True where a candle breaks an OHLC rule (the rules are listed in :mod:`kit.store.checks`)."""
    o, h, low, c, v = values
    with np.errstate(invalid="ignore"):
        bad = (low > np.minimum(o, c)) | (h < np.maximum(o, c)) | (low > h) | (v < 0)
        bad |= ~np.isfinite(o + h + low + c + v)
    return np.asarray(bad, dtype=np.bool_)


class Part:
    """Candles of one partition in memory.

    ``times`` (int64 ms, sorted, unique) and ``values`` (five float64 arrays in :data:`COLUMNS`
    order; after a read, views of the mapped file), plus the stored metadata. ``origin``, set by a
    read of a verified file, names the file version the views come from (see :class:`Origin`), so
    that :func:`frame_from_parts` can read the columns straight into the frame.

    A part read from a file version trusted without summing it (verified earlier in this process,
    or by the record beside it) holds the open file and maps it only when ``times`` or ``values``
    are first asked for: a whole partition that goes into a frame is read with one ``preadv`` and
    never mapped (#18). Its ``first``/``last`` times are then read from the file (8 bytes each).
    """

    __slots__ = ("_times", "_values", "meta", "origin", "_n", "_file", "_offsets")

    def __init__(
        self, times: I64, values: Sequence[F64], meta: dict[str, Any] | None = None, origin: Origin | None = None
    ) -> None:
        self._times: I64 | None = times
        self._values: tuple[F64, ...] | None = tuple(values)
        self.meta = meta or {}
        self.origin = origin
        self._n = len(times)
        self._file: OpenFile | None = None
        self._offsets: tuple[int, ...] = ()

    @classmethod
    def unmapped(cls, n: int, meta: dict[str, Any], origin: Origin) -> Part:
        """A part of ``n`` rows of a trusted file version, mapped from ``origin.file`` on first use."""
        if origin.file is None:
            raise ValueError("an unmapped part needs its open file")
        part = cls.__new__(cls)
        part._times, part._values, part.meta, part.origin, part._n = None, None, meta, origin, n
        part._file, part._offsets = origin.file, origin.offsets
        return part

    def _map(self) -> None:
        assert self._file is not None
        if os.fstat(self._file.fd).st_size < max(self._offsets) + 8 * self._n:  # views past the end would crash
            where = self.origin.path if self.origin is not None else "a stored file"
            raise CorruptFile(f"{where} is shorter than the version that was verified")
        mm = mmap.mmap(self._file.fd, 0, access=mmap.ACCESS_READ)
        self._times, values = _views(mm, self._n, list(self._offsets))
        self._values = tuple(values)
        self._file = None  # the mapping keeps its own descriptor

    @property
    def times(self) -> I64:
        """Open times, int64 ms."""
        if self._times is None:
            self._map()
        assert self._times is not None
        return self._times

    @property
    def values(self) -> tuple[F64, ...]:
        """open, high, low, close, volume (float64)."""
        if self._values is None:
            self._map()
        assert self._values is not None
        return self._values

    @property
    def mapped(self) -> bool:
        """False while an unmapped part has not been asked for its data."""
        return self._times is not None

    def __len__(self) -> int:
        return self._n

    def first(self) -> int:
        """Open time of the first row (the part must not be empty)."""
        return self._time_at(0)

    def last(self) -> int:
        """Open time of the last row (the part must not be empty)."""
        return self._time_at(self._n - 1)

    def _time_at(self, i: int) -> int:
        if self._times is not None:
            return int(self._times[i])
        assert self._file is not None
        raw = os.pread(self._file.fd, 8, self._offsets[0] + 8 * i)
        if len(raw) != 8:  # cut short since it was verified (no kit write does that: a new inode)
            where = self.origin.path if self.origin is not None else "a stored file"
            raise CorruptFile(f"{where} is shorter than the version that was verified")
        return int.from_bytes(raw, "little", signed=True)

    def slice(self, start_ms: int, end_ms: int) -> Part:
        """Rows with open time in ``[start_ms, end_ms)`` (views, no copy)."""
        if self._n == 0 or (self.first() >= start_ms and self.last() < end_ms):
            # The whole part (the common case: a partition inside the range). The binary search
            # would touch ~7 pages of a mapped file, each a page fault in a fresh process (#18).
            return self
        lo, hi = np.searchsorted(self.times, [start_ms, end_ms])
        if lo == 0 and hi == len(self.times):
            return self
        return Part(self.times[lo:hi], [v[lo:hi] for v in self.values], self.meta)

    def owned(self) -> Part:
        """The same rows in arrays of their own (one copy), holding no file open.

        A part of a verified file version is read with one ``preadv`` on the descriptor it holds (no
        mapping); any other part is copied from its views. The file closes when this part and its
        views are dropped: :meth:`kit.store.series.Series.read` keeps at most
        ``HELD_FILES_MAX`` parts of one read holding a file, so a read of many partitions does not
        run into the descriptor limit (256 by default on macOS).
        """
        times, values = np.empty(self._n, dtype=np.int64), np.empty((len(COLUMNS), self._n), dtype=np.float64)
        self.copy_into(times, values)
        return Part(times, list(values), self.meta)

    def copy_into(self, times: I64, values: npt.NDArray[np.float64]) -> None:
        """Write the rows into ``times`` and the rows of ``values`` (``(5, len(self))``).

        A part of a verified file version is read with one ``preadv`` (see :func:`_pread_into`: no
        page faults on a mapping); any other part, or a file changed since, is copied from its views.
        """
        if self.origin is None or not _pread_into(self.origin, self._n, times, values):
            times[:] = self.times
            for i, v in enumerate(self.values):
                values[i] = v

    def take(self, index: npt.NDArray[Any]) -> Part:
        """Rows picked by an integer or boolean index (copies)."""
        return Part(self.times[index], [v[index] for v in self.values], self.meta)

    def ohlc_issues(self) -> int:
        """Number of candles breaking an OHLC rule (see :func:`ohlc_mask`)."""
        return int(ohlc_mask(self.values).sum())


class OpenFile:
    """A file descriptor closed when the last part holding it is dropped."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except OSError:  # pragma: no cover - already closed
            pass


class Origin:
    """The file version a :class:`Part`'s views were verified from: path, stat key, column offsets.

    ``key`` is ``(device, inode, size, mtime_ns, ctime_ns)`` when the file was checked (its sums,
    or the record beside it); ``offsets`` the byte offsets of the six columns' values, each
    ``8 * rows`` bytes long. :func:`frame_from_parts` reads those bytes again with one ``preadv``
    only while the file still has this key (see :func:`_pread_into`): through ``file``, the
    descriptor the check was made on, when the part holds it open, else the file at ``path``.
    """

    __slots__ = ("path", "key", "offsets", "file")

    def __init__(
        self, path: str, key: tuple[int, int, int, int, int], offsets: Sequence[int], file: OpenFile | None = None
    ) -> None:
        self.path = path
        self.key = key
        self.offsets = tuple(offsets)
        self.file = file


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"


def atomic_write_bytes(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, replace, fsync directory).

    ``sync_dir=False`` skips the directory fsync: the rename may then be lost in a power cut
    (the old file stays), which is safe for a file whose older version is still correct.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        _fsync_dir(path.parent)


def write_part(path: Path, part: Part) -> None:
    """Write one partition atomically; ``part.times`` must be sorted and unique."""
    n = len(part.times)
    times = np.ascontiguousarray(part.times, dtype=np.int64)
    values = [np.ascontiguousarray(v, dtype=np.float64) for v in part.values]
    meta = {
        "version": FORMAT_VERSION,
        "rows": n,
        "first": int(times[0]) if n else None,
        "last": int(times[-1]) if n else None,
        "ohlc_issues": part.ohlc_issues(),
        "sums": [_sum(times), *(_sum(v) for v in values)],
        **{k: v for k, v in part.meta.items() if k not in _OWN_META},
    }
    arrays: list[pa.Array] = [pa.array(times.view("datetime64[ms]"), type=SCHEMA.field(0).type)]
    arrays += [pa.array(v, type=pa.float64()) for v in values]
    table = pa.Table.from_arrays(arrays, schema=SCHEMA.with_metadata({META_KEY: json.dumps(meta).encode()}))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh, row_group_size=max(n, 1), **_WRITE_OPTIONS)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def read_part(path: Path) -> Part:
    """Read one partition and check it (structure, checksums, metadata against the data).

    Fast path (files this module wrote): the footer says one row group of uncompressed, required
    PLAIN columns in one page each, so each column's values are one contiguous run of the file;
    they are memory-mapped as numpy views, no decoding, and checked against the per-column sums
    in the ``kit.store`` metadata (a 64-bit wrapping sum: any damaged run of bytes shows). When
    anything does not fit, or a sum disagrees, the file is decoded by pyarrow with its CRC32 page
    checksums verified, then checked against the sums again.

    Raises
    ------
    CorruptFile
        The file is truncated, fails a checksum, has the wrong columns, or disagrees with its
        own metadata. Nothing of it is returned.
    """
    part = _read_fast(path)
    if part is not None:
        return part
    try:
        table = pq.read_table(path, memory_map=False, use_threads=False, page_checksum_verification=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        if isinstance(exc, OSError) and exc.errno in NOT_THE_FILE:
            raise StoreUnreadable(f"cannot read {path}: {exc}") from exc
        raise CorruptFile(f"cannot read {path}: {exc}") from exc
    if table.schema.names != SCHEMA.names or any(
        table.schema.field(i).type != SCHEMA.field(i).type for i in range(len(SCHEMA))
    ):
        table = _conform(table, path)
    n = table.num_rows
    times = _column_i64(table.column(0))
    values = [_column_f64(table.column(i + 1)) for i in range(len(COLUMNS))]
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is not None:
        meta = _meta(raw, path)
        _check(path, meta, times, values)
        return Part(times, values, meta)
    # Not written by the kit (copied in by hand): sort, deduplicate and count OHLC issues now.
    order = np.argsort(times, kind="stable")
    keep = np.ones(n, dtype=bool)
    keep[:-1] = times[order][1:] != times[order][:-1]
    part = Part(times, values).take(order[keep])
    part.meta = {"foreign": True, "ohlc_issues": part.ohlc_issues(), "duplicates": n - len(part)}
    return part


_UTC_MS = pd.DatetimeTZDtype("ms", "UTC")
_OWN_META = ("version", "rows", "first", "last", "ohlc_issues", "sums")
_PHYSICAL = ["INT64"] + ["DOUBLE"] * len(COLUMNS)


def _sum(a: npt.NDArray[Any]) -> int:
    """Wrapping 64-bit sum of the raw words of an int64 / float64 array."""
    return int(np.add.reduce(a.view(np.uint64), dtype=np.uint64)) if len(a) else 0


def _meta(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise CorruptFile(f"{path}: unreadable kit.store metadata") from exc
    if not isinstance(meta, dict):
        raise CorruptFile(f"{path}: unreadable kit.store metadata")
    return meta


def _check(path: Path, meta: dict[str, Any], times: I64, values: Sequence[F64]) -> None:
    n = len(times)
    first = int(times[0]) if n else None
    last = int(times[-1]) if n else None
    if meta.get("rows") != n or meta.get("first") != first or meta.get("last") != last:
        raise CorruptFile(
            f"{path}: {n} rows from {first} to {last}, but the file says "
            f"{meta.get('rows')} rows from {meta.get('first')} to {meta.get('last')}"
        )
    sums = meta.get("sums")
    if sums is not None and sums != [_sum(times), *(_sum(v) for v in values)]:
        raise CorruptFile(f"{path}: the data does not match its checksums")


#: Files whose checksums passed, by path: (stat key, footer, rows, column offsets, metadata). A
#: file is trusted again only while (device, inode, size, mtime, ctime) are unchanged and its
#: Parquet footer (the metadata with the per-column sums, and the trailing length and magic) is
#: byte for byte the one verified, and only if it had not changed for RACY_NS before it was
#: verified (git's "racy clean" rule: a write within the same timestamp tick as the check would
#: otherwise go unseen). Size and mtime alone are not enough (#13): a file rewritten in place with
#: its mtime set back was served from the cache unchecked; ctime cannot be set back (any write or
#: utime moves it), and a rewrite by another writer brings its own footer. Our own writes always
#: replace the inode.
_VERIFIED: dict[str, tuple[tuple[int, int, int, int, int], bytes, int, list[int], dict[str, Any]]] = {}
_VERIFIED_MAX = 4096
RACY_NS = 2_000_000_000


#: The same record on disk, next to the file (``.part.parquet.verified``), so that a fresh process
#: trusts a file version verified by an earlier one (#18): written once per file version (after its
#: first verified read, under the same racy-clean rule), never per read. It holds the stat key, the
#: SHA-256 of the footer, the rows, column offsets and metadata; a record that does not match the
#: file's current stat and footer byte for byte, or that cannot be read, is ignored (the file is
#: summed as usual and the record written again).
SIDECAR_SUFFIX = ".verified"
SIDECAR_VERSION = 1


def forget_verified() -> None:
    """Drop the in-process verified-file cache (the next read of each file starts from its record on disk)."""
    _VERIFIED.clear()


def sidecar_path(path: Path) -> Path:
    """Where the verification record of ``path`` lives: a hidden file beside it (no ``*.parquet`` glob sees it)."""
    return path.with_name("." + path.name + SIDECAR_SUFFIX)


def _sidecar_read(
    path: Path, key: tuple[int, int, int, int, int], fd: int
) -> tuple[int, list[int], dict[str, Any], bytes] | None:
    """The record of ``path`` if it matches the file open as ``fd`` now (rows, offsets, meta, footer); else None."""
    try:
        rfd = os.open(sidecar_path(path), os.O_RDONLY | os.O_CLOEXEC)
        try:
            raw = os.read(rfd, _SIDECAR_MAX)
        finally:
            os.close(rfd)
        if len(raw) >= _SIDECAR_MAX:  # not a record this module wrote
            return None
        rec = json.loads(raw)
        if rec.get("v") != SIDECAR_VERSION or tuple(rec["key"]) != key:
            return None
        footer = _footer_of(fd, key[2])
        if len(footer) != rec["footer_len"] or hashlib.sha256(footer).hexdigest() != rec["footer_sha256"]:
            return None
        n, offsets, meta = int(rec["rows"]), [int(o) for o in rec["offsets"]], rec["meta"]
        if not isinstance(meta, dict) or len(offsets) != len(SCHEMA) or any(o + 8 * n > key[2] for o in offsets):
            return None
        if meta.get("rows") != n or (n and not (type(meta.get("first")) is int and type(meta.get("last")) is int)):
            return None
        return n, offsets, meta, footer
    except (OSError, ValueError, KeyError, TypeError):
        return None


#: A record is a few hundred bytes; one ``read`` of up to this many takes all of it.
_SIDECAR_MAX = 1 << 16


def _sidecar_write(path: Path, key: tuple[int, int, int, int, int], footer: bytes, n: int, offsets: list[int],
                   meta: dict[str, Any]) -> None:  # fmt: skip
    """Record a verified file version beside it (atomic rename, no fsync: a lost record only costs a re-check)."""
    digest = hashlib.sha256(footer).hexdigest()
    rec = {"v": SIDECAR_VERSION, "key": list(key), "footer_len": len(footer), "footer_sha256": digest,
           "rows": n, "offsets": offsets, "meta": meta}  # fmt: skip
    dest = sidecar_path(path)
    tmp = dest.with_name(f"{dest.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(json.dumps(rec))
        os.replace(tmp, dest)
    except OSError:  # a read-only store: verified again by the next process
        tmp.unlink(missing_ok=True)


def _read_fast(path: Path) -> Part | None:
    """The no-decode path of :func:`read_part`; ``None`` when it does not apply or a check fails."""
    # Opened before the try: a missing file (FileNotFoundError) and a failure that is not the file's
    # (StoreUnreadable) reach the caller as they are, never as a corrupt file to quarantine.
    file = OpenFile(_open_ro(path))  # closed when the last holder drops it
    try:
        st = os.fstat(file.fd)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        # A trusted file version (verified here before, or by the record beside it) is not mapped:
        # the part holds the open file and maps it only if its views are asked for (#18).
        hit = _VERIFIED.get(str(path))
        if hit is not None and hit[0] == key and len(hit[1]) <= key[2]:
            if os.pread(file.fd, len(hit[1]), key[2] - len(hit[1])) == hit[1]:
                _, _, n, known, meta = hit
                return Part.unmapped(n, meta, Origin(str(path), key, known, file))
        rec = _sidecar_read(path, key, file.fd)
        if rec is not None:  # verified by an earlier process, and unchanged since
            n, known, meta, footer = rec
            _remember(path, key, footer, n, known, meta)
            return Part.unmapped(n, meta, Origin(str(path), key, known, file))
        mm = mmap.mmap(file.fd, 0, access=mmap.ACCESS_READ)
        md = pq.read_metadata(pa.BufferReader(pa.py_buffer(mm)))
        raw = (md.metadata or {}).get(META_KEY)
        if raw is None or md.num_row_groups != 1 or md.num_columns != len(SCHEMA):
            return None
        rg = md.row_group(0)
        n = rg.num_rows
        offsets: list[int] = []
        for i in range(len(SCHEMA)):
            c = rg.column(i)
            if (
                c.path_in_schema != SCHEMA.names[i]
                or c.physical_type != _PHYSICAL[i]
                or c.compression != "UNCOMPRESSED"
                or md.schema.column(i).max_definition_level != 0
                or not set(c.encodings) <= {"PLAIN", "RLE"}
            ):
                return None
            start = c.data_page_offset + c.total_compressed_size - 8 * n
            if start <= c.data_page_offset or start + 8 * n > st.st_size:
                return None
            offsets.append(start)
        logical = str(md.schema.column(0).logical_type).lower()
        if "timeunit=milliseconds" not in logical or "isadjustedtoutc=true" not in logical:
            return None
        times, values = _views(mm, n, offsets)
        meta = _meta(raw, path)
        _check(path, meta, times, values)
    except (CorruptFile, pa.ArrowException, OSError, ValueError):
        return None  # the decoding path decides, with full checks and a precise message
    if "sums" in meta and st.st_mtime_ns + RACY_NS < time.time_ns():
        footer = _footer(mm)
        _remember(path, key, footer, n, offsets, meta)
        _sidecar_write(path, key, footer, n, offsets, meta)
        return Part(times, values, meta, Origin(str(path), key, offsets))
    return Part(times, values, meta)


def _remember(path: Path, key: tuple[int, int, int, int, int], footer: bytes, n: int, offsets: list[int],
              meta: dict[str, Any]) -> None:  # fmt: skip
    if len(_VERIFIED) >= _VERIFIED_MAX:
        del _VERIFIED[next(iter(_VERIFIED))]
    _VERIFIED[str(path)] = (key, footer, n, offsets, meta)


def _footer_of(fd: int, size: int) -> bytes:
    """:func:`_footer` of the file open as ``fd`` (``size`` bytes), read with ``pread``."""
    tail = os.pread(fd, min(size, _TAIL), max(0, size - _TAIL))
    if len(tail) < 8:
        return tail
    n = int.from_bytes(tail[-8:-4], "little") + 8
    if n <= len(tail):
        return tail[len(tail) - n :]
    return os.pread(fd, min(n, size), max(0, size - n))


#: Bytes read from a file's end to get its footer in one call (a kit file's footer is ~2 KB).
_TAIL = 1 << 14


def _footer(mm: mmap.mmap) -> bytes:
    """The file's Parquet footer: its metadata, the metadata's length and the closing magic."""
    size = len(mm)
    n = int.from_bytes(mm[size - 8 : size - 4], "little") + 8
    return bytes(mm[max(0, size - n) :])


def _views(mm: mmap.mmap, n: int, offsets: list[int]) -> tuple[I64, list[F64]]:
    times = np.frombuffer(mm, dtype=np.int64, count=n, offset=offsets[0])
    return times, [np.frombuffer(mm, dtype=np.float64, count=n, offset=o) for o in offsets[1:]]


def _conform(table: pa.Table, path: Path) -> pa.Table:
    """A file written by another tool: same column names, compatible types (any UTC timestamp unit)."""
    wrong = CorruptFile(f"{path} has columns {table.schema.remove_metadata()}, not {SCHEMA.remove_metadata()}")
    if not set(SCHEMA.names) <= set(table.schema.names):
        raise wrong
    ttype = table.schema.field("time").type
    if not pa.types.is_timestamp(ttype) or ttype.tz not in ("UTC", "utc", "+00:00", "Etc/UTC"):
        raise wrong
    try:
        cols = [table.column("time").cast(SCHEMA.field(0).type, safe=False)]
        cols += [table.column(c).cast(pa.float64()) for c in COLUMNS]
    except pa.ArrowException as exc:
        raise wrong from exc
    return pa.Table.from_arrays(cols, schema=SCHEMA)  # no kit metadata: checked as foreign below


def _column_i64(col: pa.ChunkedArray) -> I64:
    if col.null_count:
        raise CorruptFile("the time column has nulls")
    chunks = col.chunks
    if len(chunks) == 1:
        a = chunks[0]
        return np.frombuffer(a.buffers()[1], dtype=np.int64, count=len(a), offset=a.offset * 8)
    return np.asarray(col.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _column_f64(col: pa.ChunkedArray) -> F64:
    chunks = col.chunks
    if len(chunks) == 1 and chunks[0].null_count == 0:
        a = chunks[0]
        return np.frombuffer(a.buffers()[1], dtype=np.float64, count=len(a), offset=a.offset * 8)
    return np.asarray(col.to_numpy(), dtype=np.float64)  # nulls become NaN


def frame_from_parts(parts: Sequence[Part]) -> pd.DataFrame:
    """One candles DataFrame (UTC DatetimeIndex ``time``; :data:`COLUMNS`) from ordered parts."""
    n = sum(len(p) for p in parts)
    # One copy of everything, straight into the (5, n) C-ordered array whose transpose becomes the
    # frame's single float64 block (pandas takes it without another copy), and into the int64 array
    # the index keeps (again without a copy). The data then no longer points into memory-mapped
    # files, which may be replaced by the next write. A whole part of a trusted file version is
    # read by the kernel from the file's page cache (one preadv, see _pread_into: no page faults
    # on the mapping); any other part is copied from its views.
    times, values = _frame_arrays(n)
    pos = 0
    for p in parts:
        k = len(p)
        p.copy_into(times[pos : pos + k], values[:, pos : pos + k])
        pos += k
    return pd.DataFrame(values.T, index=_utc_index(times), columns=_column_index(), copy=False)


#: The frame's column labels, built by the first frame of a process (not at import: the first
#: ``pd.Index`` of strings costs ~0.8 ms, pyarrow's first allocation and conversion for pandas'
#: pyarrow-backed ``str`` dtype, and that stays in the first read), then ~0.1 ms less per read.
#: Every frame gets its own shallow copy (``Index.copy()`` shares the immutable labels, not the
#: object), so setting one frame's ``columns.name`` or renaming its columns touches no other frame.
_COLUMN_INDEX: list[pd.Index] = []


def _column_index() -> pd.Index:
    if not _COLUMN_INDEX:
        _COLUMN_INDEX.append(pd.Index(COLUMNS))
    return _COLUMN_INDEX[0].copy()


#: Bytes between two columns' values in a kit file (the next column's page header: ~30 bytes); a
#: larger gap is not read through (the part is copied from its mapping instead).
_MAX_GAP = 4096


def _pread_into(origin: Origin, n: int, times: I64, values: npt.NDArray[np.float64]) -> bool:
    """Read a whole partition's columns from its file straight into the frame's arrays; False if not done.

    The copy from a part's mapped views costs a page fault per 64 KiB of the file in a process that
    has not touched it (#18: ~250 of a fresh year read's faults). One ``preadv`` per file has the
    kernel copy from its page cache into ``times`` and the rows of ``values`` instead (the gaps,
    the next column's page header, go to a scratch buffer). Only if the file is still the version
    that was verified: same ``(device, inode, size, mtime, ctime)``, on the descriptor the part
    holds (the same inode) or else on the file now at the path; a file replaced or written since
    (the key differs), an error or a short read return False, and the caller copies from the
    part's views as before (the verified version's pages, as the read returned them).
    """
    offsets = origin.offsets
    if (
        not hasattr(os, "preadv")
        or len(offsets) != 1 + values.shape[0]
        or any(b - a < 8 * n for a, b in zip(offsets, offsets[1:], strict=False))
    ):
        return False
    gaps = [b - a - 8 * n for a, b in zip(offsets, offsets[1:], strict=False)]
    if max(gaps, default=0) > _MAX_GAP:
        return False
    scratch = bytearray(max(gaps, default=0))
    buffers: list[Any] = [times]
    for i, gap in enumerate(gaps):
        if gap:
            buffers.append(memoryview(scratch)[:gap])
        buffers.append(values[i])
    try:
        fd = origin.file.fd if origin.file is not None else os.open(origin.path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) != origin.key:
            return False
        return os.preadv(fd, buffers, offsets[0]) == offsets[-1] + 8 * n - offsets[0]
    except OSError:
        return False
    finally:
        if origin.file is None:
            os.close(fd)


#: A transparent huge page; frames of at least two take :func:`_frame_arrays`' aligned buffer.
_HUGE_PAGE = 2 << 20


def _frame_arrays(n: int) -> tuple[I64, npt.NDArray[np.float64]]:
    """Fresh ``times`` (n,) and ``values`` (5, n) arrays for a frame of ``n`` candles.

    A year of 1m candles is 25 MB of new memory, and in a fresh process the kernel zeroes each page
    on first touch (#18, measured in docs/store.md): the two arrays as numpy allocated them took
    ~900 page faults, because numpy's huge-page advice covers only the 2 MiB-aligned middle of a
    buffer, and the 4 MB ``times`` array got almost none. Both arrays are now views of one buffer,
    over-allocated by one huge page and sliced at a 2 MiB boundary, so that nearly all of it is in
    huge pages (~12 faults). The buffer is numpy's (``np.empty``), so a process's later reads
    reuse the allocator's freed memory as before, and the frame owns it like any numpy data.
    """
    k = len(COLUMNS)
    nbytes = (k + 1) * 8 * n
    if nbytes < 2 * _HUGE_PAGE:
        return np.empty(n, dtype=np.int64), np.empty((k, n), dtype=np.float64)
    buf = np.empty(nbytes + _HUGE_PAGE, dtype=np.uint8)
    start = -buf.ctypes.data % _HUGE_PAGE
    values = buf[start : start + k * 8 * n].view(np.float64).reshape(k, n)
    times = buf[start + k * 8 * n : start + nbytes].view(np.int64)
    return times, values


def _utc_index(times: I64) -> pd.DatetimeIndex:
    """The frame's ``time`` index over ``times`` (int64 ms), without copying them.

    ``pd.DatetimeIndex(values, dtype="datetime64[ms, UTC]")`` treats the values as wall times to
    localize and copies them (4 MB and 515 page faults for a year); for UTC the conversion is the
    identity, so the array is wrapped as it is. ``DatetimeArray._simple_new`` is pandas' internal
    constructor; if a pandas version lacks it, the public (copying) constructor is used.
    """
    dt64 = times.view("datetime64[ms]")
    try:
        from pandas.core.arrays import DatetimeArray

        arr = DatetimeArray._simple_new(dt64, dtype=_UTC_MS)  # type: ignore[attr-defined]
        return pd.DatetimeIndex(arr, name="time", copy=False)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - other pandas versions
        return pd.DatetimeIndex(dt64, dtype=_UTC_MS, name="time")


def quarantine(root: Path, path: Path) -> Path:
    """Move a corrupt file under ``root/quarantine/`` (same relative path, UTC stamp); return the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    dest = paths.quarantine_path(root, path, stamp)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, dest)
    _fsync_dir(path.parent)
    return dest
