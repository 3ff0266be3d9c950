"""A webhook receiver on 127.0.0.1 (``http.server`` in a thread): what a Slack-compatible endpoint would get.

>>> import json, urllib.request
>>> with WebhookReceiver() as rx:
...     req = urllib.request.Request(rx.url, data=json.dumps({"text": "hi"}).encode(), method="POST")
...     urllib.request.urlopen(req, timeout=5).status, rx.texts()
(200, ['hi'])
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["WebhookReceiver"]


class WebhookReceiver:
    """Collects JSON POST bodies; ``status`` is the HTTP status it answers (set 500 to test failures)."""

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                with owner._lock:
                    owner.received.append((time.monotonic(), body))
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok":true}')

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        """Where to POST, ``http://127.0.0.1:PORT/hook``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> WebhookReceiver:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def texts(self) -> list[str]:
        """The ``text`` of every body received, in order."""
        with self._lock:
            return [str(b.get("text", "")) for _, b in self.received]

    def since(self, t0: float, t1: float | None = None) -> list[str]:
        """Texts received between monotonic times ``t0`` and ``t1``."""
        with self._lock:
            return [str(b.get("text", "")) for t, b in self.received if t >= t0 and (t1 is None or t <= t1)]

    def wait_for(self, needle: str, *, after: float = 0.0, timeout: float = 10.0) -> bool:
        """Wait until a text containing ``needle`` arrives after monotonic time ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in t for t in self.since(after)):
                return True
            time.sleep(0.05)
        return False

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
