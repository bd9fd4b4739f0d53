"""``wsusbot serve``: Socket Mode (default) or HTTP mode behind uvicorn, with /healthz and
/readyz in both modes, and a clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.observability.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.usecases.context import BotContext

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 1024 * 1024


class Readiness:
    """What /readyz reports: the Slack connection and the store."""

    def __init__(self, ctx: BotContext, slack_connected: Callable[[], bool]) -> None:
        self._ctx = ctx
        self._slack_connected = slack_connected

    def report(self) -> tuple[bool, dict[str, bool]]:
        checks = {"slack": self._slack_connected(), "store": self._ctx.services.db.ping()}
        return all(checks.values()), checks


class _BodyTooLargeError(Exception):
    pass


class ThreadedBoltHandler(SlackRequestHandler):
    """Bolt's own ASGI adapter, with the (synchronous) dispatch moved off the event loop.

    The stock adapter calls ``App.dispatch`` on the loop: every listener's work before its
    ack (the dedupe claim in the database, the inventory) would stall health probes and
    every other delivery behind it."""

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        bolt_request = BoltRequest(
            body=await request.get_raw_body(),
            query=request.query_string,
            headers=request.get_headers(),
        )
        return await asyncio.to_thread(self.app.dispatch, bolt_request)


class SlackAsgi:
    """/healthz and /readyz, then POST /slack/events through Bolt's ASGI adapter, with a
    bound on the body size (Slack's payloads are far below 1 MiB)."""

    def __init__(
        self,
        app: App | None,
        readiness: Readiness | None,
        path: str = "/slack/events",
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._bolt = ThreadedBoltHandler(app, path) if app is not None else None
        self._readiness = readiness
        self._path = path
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/metrics" and method == "GET" and self._metrics is not None:
            # Prometheus text exposition format, rendered off the loop
            body = await asyncio.to_thread(self._metrics.render)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif self._readiness is None:
            await _respond(send, 404, {"error": "not found"})
        elif path == "/healthz" and method == "GET":
            await _respond(send, 200, {"status": "ok"})
        elif path == "/readyz" and method == "GET":
            ready, checks = await asyncio.to_thread(self._readiness.report)
            await _respond(send, 200 if ready else 503, {"ready": ready, **checks})
        elif path == self._path and method == "POST" and self._bolt is not None:
            if _declared_length(scope) > MAX_BODY:
                await _respond(send, 413, {"error": "body too large"})
                return
            if not _signed_shape(scope):
                # anyone can send this: one short line, no body, no traceback
                client = scope.get("client") or ("?", 0)
                log.warning("refused a request without a valid Slack signature from %s", client[0])
                await _respond(send, 401, {"error": "invalid signature"})
                return
            try:
                await self._bolt(dict(scope), _bounded(receive), send)
            except _BodyTooLargeError:
                await _respond(send, 413, {"error": "body too large"})
        else:
            await _respond(send, 404, {"error": "not found"})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


def _signed_shape(scope: Scope) -> bool:
    """A request Bolt can verify: a numeric X-Slack-Request-Timestamp and a v0 signature
    (https://api.slack.com/authentication/verifying-requests-from-slack)."""
    timestamp = _header(scope, b"x-slack-request-timestamp")
    signature = _header(scope, b"x-slack-signature")
    return (
        timestamp is not None
        and timestamp.isdigit()
        and len(timestamp) <= 12
        and signature is not None
        and signature.startswith(b"v0=")
    )


def _declared_length(scope: Scope) -> int:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return MAX_BODY + 1
    return 0


def _bounded(receive: Receive) -> Receive:
    """``receive`` that refuses more than :data:`MAX_BODY` bytes of body."""
    size = 0

    async def bounded() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            raise _BodyTooLargeError
        return message

    return bounded


async def _respond(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def metrics_only(metrics: Metrics) -> SlackAsgi:
    """Socket Mode's metrics listener: ``/metrics`` and nothing else."""
    return SlackAsgi(None, None, metrics=metrics)


class HttpServer:
    """uvicorn in a thread: production-grade HTTP/1.1, with a stop we control."""

    def __init__(self, asgi: SlackAsgi, host: str, port: int) -> None:
        config = uvicorn.Config(
            asgi,
            host=host,
            port=port,
            log_level="warning",
            # no logging config of uvicorn's own: its lines go through the root handler
            # (JSON when asked, secrets redacted) instead of a second, plain-text handler
            log_config=None,
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._server.run, name="wsusbot-http", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the HTTP server could not start (is the port free?)")
            threading.Event().wait(0.02)
        return self

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("server not listening")

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)


class SocketModeRunner:
    def __init__(self, app: App, app_token: str) -> None:
        self._handler = SocketModeHandler(app, app_token)

    def start(self) -> SocketModeRunner:
        self._handler.connect()  # type: ignore[no-untyped-call]
        return self

    def connected(self) -> bool:
        client = self._handler.client
        try:
            return bool(client.is_connected())
        except Exception:
            return False

    def stop(self, timeout: float = 15.0) -> None:
        """Close the connection, bounded.

        slack_sdk's builtin client joins its session thread on close() after setting
        ``current_session_state.terminated``; but that thread resets the flag each time it
        enters a session, so a close landing on that moment waits forever (seen in CI).
        Keep telling the session it is over until close() returns, and never hang shutdown.
        """
        closer = threading.Thread(
            target=self._close_quietly, name="wsusbot-socket-close", daemon=True
        )
        closer.start()
        deadline = time.monotonic() + timeout
        while closer.is_alive() and time.monotonic() < deadline:
            state = getattr(self._handler.client, "current_session_state", None)
            if state is not None:
                state.terminated = True
            closer.join(0.1)
        if closer.is_alive():
            log.warning("the Socket Mode client did not close within %.0f s", timeout)

    def _close_quietly(self) -> None:
        try:
            self._handler.close()  # type: ignore[no-untyped-call]
        except Exception as exc:
            log.debug("socket mode close: %s", type(exc).__name__)
