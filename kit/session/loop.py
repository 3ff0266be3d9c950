"""A private asyncio loop on a background thread, so notebook cells can call async code synchronously.

Jupyter already runs an event loop in the kernel's main thread, so ``asyncio.run`` in a cell
fails with "event loop already running". The Session instead owns a loop on its own daemon
thread; sync methods hand coroutines to it and wait for the result, and streams keep running
there between cells.

>>> import asyncio
>>> loop = BackgroundLoop()
>>> loop.run(asyncio.sleep(0, result=42))
42
>>> loop.close()
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """An event loop running forever on a daemon thread."""

    def __init__(self, name: str = "kit-session") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (re-raising its exception)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("BackgroundLoop.run called from its own thread; await the coroutine instead")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coro`` without waiting (streams, background refresh)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    @property
    def running(self) -> bool:
        """True until :meth:`close`."""
        return self._thread.is_alive()

    def close(self, timeout: float = 10.0) -> None:
        """Cancel pending tasks, stop the loop and join the thread."""
        if not self._thread.is_alive():
            return

        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(_cancel_all(), timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self.loop.close()
