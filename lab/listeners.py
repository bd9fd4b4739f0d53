"""One accept loop for every lab listener in the process.

``socketserver.serve_forever`` gives each listener its own thread that wakes every poll
interval to look for a shutdown request: 1,000 idle WinRM endpoints at 0.1 s were ten
thousand wake-ups a second, a quarter of a core doing nothing. Here one thread blocks in
``epoll`` (``selectors.DefaultSelector``) with no timeout over all listening sockets and
is woken only by a connection or by a (un)registration through its wake-up socket pair:
an idle estate costs no CPU at all, whatever its size. Each accepted connection is still
served on its own thread by the listener's ``process_request`` (ThreadingMixIn), started
by one of a few dispatcher threads: ``Thread.start`` waits until the new thread runs,
which under GIL contention can take a while, and the accept loop must never wait on it
(a slow accept turns into a client's timeout).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import socketserver
import threading
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

#: threads that start connection handlers (idle, they block on a queue: no CPU)
DISPATCHERS = 16

_Handoff = tuple[socketserver.TCPServer, socket.socket, object]


class AcceptLoop:
    """Serves the accepts of any number of ``socketserver.BaseServer`` listeners."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._pending: deque[Callable[[], None]] = deque()
        self._handoffs: queue.SimpleQueue[_Handoff] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lab-accept-loop", daemon=True)
        self._thread.start()
        for number in range(DISPATCHERS):
            threading.Thread(
                target=self._dispatch, name=f"lab-dispatch-{number}", daemon=True
            ).start()

    def add(self, server: socketserver.TCPServer) -> None:
        self._call(lambda: self._register(server))

    def remove(self, server: socketserver.TCPServer) -> None:
        """Stop accepting for ``server``; on return, no accept of it runs or will run."""
        self._call(lambda: self._unregister(server))

    def listener_count(self) -> int:
        with self._lock:
            return len(self._selector.get_map()) - 1

    def _register(self, server: socketserver.TCPServer) -> None:
        self._selector.register(server.socket, selectors.EVENT_READ, server)

    def _unregister(self, server: socketserver.TCPServer) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(server.socket)

    def _call(self, change: Callable[[], None]) -> None:
        """Run ``change`` on the loop's thread (selectors are not thread-safe) and wait."""
        if threading.current_thread() is self._thread:
            change()
            return
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                change()
            except BaseException as exc:  # handed back to the caller
                failure.append(exc)
            finally:
                done.set()

        with self._lock:
            self._pending.append(run)
        self._wake_write.send(b"\0")
        done.wait()
        if failure:
            raise failure[0]

    def _run(self) -> None:
        while True:
            for key, _events in self._selector.select():
                if key.data is None:
                    self._drain_wakeups()
                    continue
                server: socketserver.TCPServer = key.data
                try:
                    request, client_address = server.get_request()
                except OSError:
                    continue
                self._handoffs.put((server, request, client_address))
            while True:
                with self._lock:
                    if not self._pending:
                        break
                    change = self._pending.popleft()
                change()

    def _dispatch(self) -> None:
        """verify + process_request, as ``serve_forever`` does after its accept."""
        while True:
            server, request, client_address = self._handoffs.get()
            if server.socket.fileno() < 0:
                # the listener stopped after this connection was accepted
                server.shutdown_request(request)
                continue
            try:
                if server.verify_request(request, client_address):
                    server.process_request(request, client_address)
                else:
                    server.shutdown_request(request)
            except Exception:
                server.handle_error(request, client_address)
                server.shutdown_request(request)

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_read.recv(4096):
                pass


_LOOP: AcceptLoop | None = None
_LOOP_LOCK = threading.Lock()


def accept_loop() -> AcceptLoop:
    """The process's accept loop, started on first use (never at import)."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            _LOOP = AcceptLoop()
        return _LOOP
