"""One listening port of a simulated IIS server: real HTTP, real W3C log lines.

The listener answers whatever site of the server's state is bound to its *nominal* port
(80, 8530) at request time, so fixes that add a vdir or start a service show at once.
``set_listening(False)`` closes the socket so clients get "connection refused", as when no
site is bound or W3SVC is stopped.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lab.iis.routing import Reply
from lab.iis.w3c import LogEntry, W3cLogWriter
from lab.listeners import accept_loop

#: (nominal port, method, path) -> reply; the server host supplies it from its state
Responder = Callable[[int, str, str], Reply]
#: nominal port -> the log writer of the site answering there (None: do not log)
LogWriterFor = Callable[[int], W3cLogWriter | None]


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    # every client of a fleet check fetches its self-update files here at once; with the
    # default backlog of 5, dropped SYNs retransmit after 1 s, 3 s, ... and the client's
    # own fetch times out: a lab artefact that reads as "the client cannot download"
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], listener: SiteListener) -> None:
        self.listener = listener
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client hanging up mid-request (a bot timeout, a reset) is not the lab's error
        del request, client_address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    # an idle keep-alive connection must not pin a thread past a stop()
    timeout = 10
    server: _Server
    server_version = "Microsoft-IIS/7.5"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.sockets_lock:
                self.server.open_sockets.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # the W3C log is the record

    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        self._answer("POST")

    def _answer(self, method: str) -> None:
        started = time.monotonic()
        listener = self.server.listener
        parts = urlsplit(self.path)
        reply = listener.responder(listener.nominal_port, method, parts.path)
        if reply.delay_s > 0:
            time.sleep(min(reply.delay_s, 30.0))
        # logged before answering, so whoever got the answer can already read the line
        writer = listener.log_writer_for(listener.nominal_port)
        if writer is not None:
            writer.append(
                [
                    LogEntry(
                        when=listener.now(),
                        server_ip=listener.address,
                        method=method,
                        uri_stem=parts.path,
                        uri_query=parts.query,
                        server_port=listener.nominal_port,
                        username="",
                        client_ip=self.client_address[0],
                        user_agent=self.headers.get("User-Agent") or "",
                        status=reply.status,
                        substatus=reply.substatus,
                        win32_status=reply.win32_status,
                        time_taken_ms=int((time.monotonic() - started) * 1000),
                    )
                ]
            )
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.status == 401:
            self.send_header("WWW-Authenticate", "Negotiate")
            self.send_header("WWW-Authenticate", "NTLM")
        self.send_header("X-Powered-By", "ASP.NET")
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(reply.body)


class SiteListener:
    """The socket for one nominal port of one server, on the server's loopback address."""

    def __init__(
        self,
        *,
        address: str,
        port: int,
        nominal_port: int,
        responder: Responder,
        log_writer_for: LogWriterFor,
        now: Callable[[], Any],
    ) -> None:
        self.address = address
        self.port = port
        self.nominal_port = nominal_port
        self.responder = responder
        self.log_writer_for = log_writer_for
        self.now = now
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def listening(self) -> bool:
        with self._lock:
            return self._server is not None

    def set_listening(self, wanted: bool) -> None:
        with self._lock:
            if wanted and self._server is None:
                started = _Server((self.address, self.port), self)
                self.port = started.server_address[1]
                # the process's one accept loop, not a thread polling 50 times a second
                accept_loop().add(started)
                self._server = started
            elif not wanted and self._server is not None:
                server = self._server
                self._server = None
                accept_loop().remove(server)
                with server.sockets_lock:
                    for connection in list(server.open_sockets):
                        with contextlib.suppress(OSError):
                            connection.shutdown(socket.SHUT_RDWR)
                server.server_close()

    def stop(self) -> None:
        self.set_listening(False)


def log_dir_for(root: Path, site_id: int) -> Path:
    return root / f"W3SVC{site_id}"
