"""One JSON line per REST request, without secrets.

Fields: ``time`` (ISO UTC), ``method``, ``path``, ``params`` (query and body parameters without the
ones named like a credential, :func:`kit.redact.is_credential_name`: ``signature``, ``apiKey``,
``listenKey`` ...; live secret values masked), ``key`` (a short hash of the API key, never
the key), ``ip``, ``status`` (-1 for a deliberately dropped response), ``weight``,
``latency_ms``.

Examples
--------
>>> sanitize("symbol=BTCUSDT&timestamp=1&signature=abc&secret=x&apiKey=y")
'symbol=BTCUSDT&timestamp=1'
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from kit.redact import is_credential_name, redact_text

log = logging.getLogger("kit.localnet.requests")


def sanitize(raw: str) -> str:
    """Drop credential parameters (by :func:`kit.redact.is_credential_name`) from raw ``a=1&b=2`` text.

    The rest stays as it arrived (still URL-encoded), with any live secret value masked.
    """
    if not raw:
        return ""
    keep = [p for p in raw.split("&") if p and not is_credential_name(unquote_plus(p.partition("=")[0]))]
    return redact_text("&".join(keep))


class RequestLog:
    """Append-only JSON-lines request log (file created 0600).

    Lines also go to the ``kit.localnet.requests`` logger at DEBUG level.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fh = None
        if path is not None:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fh = os.fdopen(fd, "a", buffering=1, encoding="utf-8")

    def write(
        self,
        *,
        method: str,
        path: str,
        query: str,
        body: str,
        status: int,
        weight: int,
        key_fp: str,
        ip: str,
        latency_ms: float,
    ) -> None:
        """Record one request."""
        if self._fh is None and not log.isEnabledFor(logging.DEBUG):
            return
        params = "&".join(x for x in (sanitize(query), sanitize(body)) if x)
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": method,
            "path": path,
            "params": params,
            "key": key_fp,
            "ip": ip,
            "status": status,
            "weight": weight,
            "latency_ms": round(latency_ms, 3),
        }
        line = json.dumps(entry, separators=(",", ":"))
        if self._fh is not None:
            with self._lock:
                self._fh.write(line + "\n")
        if log.isEnabledFor(logging.DEBUG):
            log.debug(line)

    def close(self) -> None:
        """Close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
