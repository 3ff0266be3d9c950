"""Rotated JSON-lines request log; every field goes through the kit's one redactor (:mod:`kit.redact`).

One line per request the kit sends to a venue::

    {"time": "2024-05-01T12:00:00.123Z", "ts_ms": 1714564800123, "method": "GET",
     "url": "https://api.binance.com/api/v3/account?recvWindow=10000", "status": 200,
     "weight": 20, "latency_ms": 41.2, "error": null}

Secrets never reach the file: URL query parameters that carry or prove a credential (``signature``,
``apiKey``, ``secret``, ``password``, ``listenKey``, ...) are dropped, a URL password is masked,
fields named like a credential are written as ``"[redacted]"``, and every string is passed through
:func:`kit.redact.redact_text` (which masks the value of any live :class:`kit.safety.secrets.Secret`
in every encoding). ``redact_url``, ``redact_text`` and ``is_credential_name`` here are
:mod:`kit.redact`'s, re-exported for the modules that import them from the log. Several processes
may share one log directory: writes and rotation hold an exclusive ``flock`` on ``<name>.lock``.

Examples
--------
>>> redact_url("https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=ab12&apiKey=k")
'https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1'
>>> redact_text("GET https://x/y?a=1&signature=ab12 returned 400")
'GET https://x/y?a=1&signature=*** returned 400'
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from kit.redact import is_credential_name, redact_text, redact_url

__all__ = ["RequestLog", "is_credential_name", "redact_text", "redact_url"]

log = logging.getLogger("kit.transport.logs")


def _jsonable(value: Any) -> Any:
    """A JSON-ready, redacted copy of a log field (unknown objects become their redacted ``str``)."""
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): "[redacted]" if is_credential_name(str(k)) else _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return redact_text(str(value))


class RequestLog:
    """Append-only JSON-lines log of venue requests, rotated by size, safe for several processes.

    Parameters
    ----------
    directory
        Where ``requests.jsonl`` and its backups ``requests.jsonl.1`` ... live; created (0700) if missing.
    max_bytes
        Rotate before a write would make the current file larger than this.
    backups
        How many rotated files to keep (the oldest is deleted).
    name
        File name of the current log.

    Examples
    --------
    >>> import tempfile
    >>> rl = RequestLog(tempfile.mkdtemp())
    >>> rl.write("GET", "https://api.binance.com/api/v3/time", 200, weight=1, latency_ms=12.5)
    >>> rl.read()[-1]["status"]
    200
    """

    def __init__(
        self, directory: str | Path, *, max_bytes: int = 5 * 1024 * 1024, backups: int = 5, name: str = "requests.jsonl"
    ) -> None:
        if max_bytes <= 0 or backups < 0:
            raise ValueError("max_bytes must be > 0 and backups >= 0")
        self.directory = Path(directory).expanduser()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.directory / name
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock_path = self.directory / f"{name}.lock"
        self._thread_lock = threading.Lock()
        self._warned = False

    def __repr__(self) -> str:
        return f"RequestLog({str(self.directory)!r}, max_bytes={self.max_bytes}, backups={self.backups})"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the flock

    def _rotate(self) -> None:
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        for i in range(self.backups - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.path.exists():
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def write(
        self,
        method: str,
        url: str,
        status: int | None,
        weight: int | None = None,
        latency_ms: float | None = None,
        error: BaseException | str | None = None,
        **extra: Any,
    ) -> None:
        """Append one request; never raises on I/O failure (it warns once on the ``kit.transport.logs`` logger).

        ``extra`` fields are added to the line (redacted like everything else; fields whose name looks
        like a credential are written as ``"[redacted]"``).
        """
        now_ms = time.time_ns() // 1_000_000
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(now_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "ts_ms": now_ms,
            "method": str(method).upper(),
            "url": redact_url(str(url)),
            "status": status,
            "weight": weight,
            "latency_ms": None if latency_ms is None else round(float(latency_ms), 3),
            "error": _jsonable(error),
        }
        for key, value in extra.items():
            if key not in entry:
                entry[key] = "[redacted]" if is_credential_name(key) else _jsonable(value)
        line = (json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
        try:
            with self._locked():
                try:
                    size = self.path.stat().st_size
                except FileNotFoundError:
                    size = 0
                if size and size + len(line) > self.max_bytes:
                    self._rotate()
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("request log %s is not writable (%s); requests are not being logged", self.path, exc)

    def files(self) -> list[Path]:
        """Existing log files, oldest first (``requests.jsonl.N`` ... ``requests.jsonl``)."""
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(self.backups, 0, -1)]
        return [p for p in [*rotated, self.path] if p.exists()]

    def read(self) -> list[dict[str, Any]]:
        """Every logged line, oldest first, parsed (a torn last line of a crashed writer is skipped)."""
        out: list[dict[str, Any]] = []
        for p in self.files():
            for raw in p.read_text(encoding="utf-8").splitlines():
                try:
                    out.append(json.loads(raw))
                except json.JSONDecodeError:
                    continue
        return out
