"""A background event loop for slow work (checks, fixes, digests), off Slack's listener
path: listeners ack at once and hand the work here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Worker:
    def __init__(self, name: str = "wsusbot-worker") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._loop is not None and self._loop.is_running()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("worker not started")
        return self._loop

    def start(self) -> Worker:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        future = asyncio.run_coroutine_threadsafe(_logged(coroutine), self.loop)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def call(self, factory: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Run a coroutine on the worker loop and wait for it (CLI and start-up use)."""

        async def run() -> T:
            return await factory()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for submitted work (tests, clean shutdown)."""
        with self._lock:
            futures = list(self._pending)
        for future in futures:
            # failures were logged by _logged; here we only wait
            with contextlib.suppress(Exception):
                future.result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None or self._thread is None:
            return
        self.drain(timeout)
        loop = self._loop

        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await loop.shutdown_asyncgens()
            await loop.shutdown_default_executor()

        asyncio.run_coroutine_threadsafe(cancel_rest(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        self._thread = None
        self._loop = None


async def _logged(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return await coroutine
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background job failed")
        raise
