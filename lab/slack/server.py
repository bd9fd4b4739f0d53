"""LocalSlack: the Web API, Socket Mode, HTTP-mode delivery and a control API on loopback.

Everything network-facing runs on one aiohttp event loop in a background thread; the
Python control API is called from test threads and only touches locked state or schedules
coroutines on that loop, so it never blocks the bot's own calls.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import asdict
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from lab.slack.deliveries import (
    Delivery,
    EnvelopeType,
    Mode,
    Tamper,
    block_actions_payload,
    events_api_payload,
    find_button,
    find_element,
    message_action_payload,
    slash_command_payload,
    view_block_actions_payload,
    view_submission_payload,
)
from lab.slack.http_delivery import signed_request
from lab.slack.state import (
    ApiCall,
    ConversationState,
    Ephemeral,
    JsonDict,
    Message,
    MessageVersion,
    ResponseUrlPost,
    UploadedFile,
    View,
)
from lab.slack.webapi import Credentials, WebApi, decode_params
from lab.slack.workspace import Workspace, default_workspace

_T = TypeVar("_T")

MAX_SOCKET_RETRIES = 3
START_TIMEOUT = 10.0


class LocalSlack:
    """A Slack workspace on loopback for the unmodified slack_sdk / Bolt clients."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        address: str = "127.0.0.1",
        port: int = 0,
        *,
        ack_timeout: float = 3.0,
        max_socket_retries: int = MAX_SOCKET_RETRIES,
        socket_ping_interval: float = 5.0,
    ) -> None:
        if not address.startswith("127.") and address not in ("localhost", "::1"):
            raise ValueError("the local Slack listens on loopback only")
        self.workspace = workspace or default_workspace()
        self.address = address
        self.ack_timeout = ack_timeout
        self.max_socket_retries = max_socket_retries
        self.socket_ping_interval = socket_ping_interval
        self.bot_token = f"xoxb-lab-{secrets.token_hex(12)}"
        self.app_token = f"xapp-1-lab-{secrets.token_hex(12)}"
        self.signing_secret = secrets.token_hex(16)
        self.http_bot_url: str | None = None
        self._requested_port = port
        self._port: int | None = None
        self._state = ConversationState()
        self._api = WebApi(
            self.workspace,
            self._state,
            Credentials(self.bot_token, self.app_token),
            base_url=lambda: self.base_url,
            open_socket_url=self._issue_socket_url,
        )
        self._deliveries: dict[str, Delivery] = {}
        self._response_targets: dict[str, tuple[Delivery, str | None]] = {}
        self._socket_tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._connected: asyncio.Condition | None = None
        self._ack_events: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> LocalSlack:
        if self._thread is not None:
            raise RuntimeError("LocalSlack already started")
        self._thread = threading.Thread(target=self._run_loop, name="lab-slack", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT):
            raise RuntimeError("local Slack did not start in time")
        if self._start_error is not None:
            self._thread.join()
            raise RuntimeError("local Slack failed to start") from self._start_error
        return self

    def stop(self) -> None:
        if self._stopped or self._loop is None or self._thread is None:
            self._stopped = True
            return
        self._stopped = True
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(START_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT)

    def __enter__(self) -> LocalSlack:
        return self.start() if self._thread is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalSlack is not started")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def socket_connections(self) -> int:
        """Open Socket Mode connections right now."""
        return len(self._sockets)

    @property
    def socket_connections_opened(self) -> int:
        """Socket Mode connections ever opened (a reconnect adds one)."""
        return self._socket_count

    def _run_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as exc:  # reported to start() in the caller's thread
            self._start_error = exc
            loop.run_until_complete(self._shutdown())
            loop.close()
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _setup(self) -> None:
        self._connected = asyncio.Condition()
        # a fresh connection per delivery, as each of Slack's requests to an app is: a
        # pooled keep-alive connection the app's server has just timed out would fail a
        # delivery with ServerDisconnectedError (seen in bench_acks between bursts)
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(force_close=True),
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(
            [
                web.post("/api/{method}", self._handle_api),
                web.get("/api/{method}", self._handle_api),
                web.post("/_upload/{file_id}", self._handle_upload),
                web.get("/_socket", self._handle_socket),
                web.post("/_lab/response/{delivery_id}", self._handle_response_url),
                *self._control_routes(),
            ]
        )
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.address, self._requested_port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for ws in list(self._sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server shutdown")
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _submit(self, coro: Coroutine[Any, Any, None]) -> Future[None]:
        if self._loop is None or self._stopped:
            coro.close()
            raise RuntimeError("LocalSlack is not running")
        return asyncio.run_coroutine_threadsafe(self._tracked(coro), self._loop)

    async def _tracked(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        try:
            await task
        finally:
            self._tasks.discard(task)

    # -- Web API --------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        params = await _request_params(request)
        bearer = request.headers.get("Authorization", "")
        token = bearer.removeprefix("Bearer ").strip() if bearer.startswith("Bearer ") else None
        response = self._api.call(request.match_info["method"], params, token)
        return web.json_response(response.body, status=response.status, headers=response.headers)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        content = await request.read()
        with self._state.lock:
            stored = self._state.files.get(request.match_info["file_id"])
            if stored is None or stored.completed:
                return web.Response(status=404, text="file not found")
            stored.content = content
        return web.Response(text=f"OK - {len(content)}")

    def _issue_socket_url(self) -> str:
        ticket = secrets.token_urlsafe(12)
        with self._state.lock:
            self._socket_tickets.add(ticket)
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"ws://{host}:{self.port}/_socket?ticket={ticket}"

    # -- Socket Mode ----------------------------------------------------------------------

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._state.lock:
            if ticket not in self._socket_tickets:
                return web.Response(status=401, text="invalid ticket")
            self._socket_tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._socket_count += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {"host": "lab-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.workspace.app_id},
            }
        )
        self._sockets.append(ws)
        assert self._connected is not None
        async with self._connected:
            self._connected.notify_all()
        pinger = asyncio.ensure_future(self._ping_forever(ws))
        try:
            async for frame in ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    self._on_socket_text(frame.data)
        finally:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)
            if ws in self._sockets:
                self._sockets.remove(ws)
        return ws

    async def _ping_forever(self, ws: web.WebSocketResponse) -> None:
        # Slack pings its clients; the pings also wake the builtin client's blocking
        # receive, so its close() returns quickly instead of after its 3 s receive timeout.
        while not ws.closed:
            await asyncio.sleep(self.socket_ping_interval)
            try:
                await ws.ping()
            except (ConnectionError, RuntimeError):
                return

    def _on_socket_text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            return
        delivery = self._deliveries.get(str(message["envelope_id"]))
        if delivery is None:
            return
        payload = message.get("payload")
        # Show the reply before recording the ack, so a test that waited for the ack sees it.
        if isinstance(payload, dict) and not delivery.acked:
            self._apply_ack_payload(delivery, payload)
        if not delivery.acked:
            self._settle_view(delivery, payload if isinstance(payload, dict) else {})
        delivery.record_ack(payload if isinstance(payload, dict) else None)
        event = self._ack_events.get(delivery.id)
        if event is not None:
            event.set()

    async def _deliver_socket(self, delivery: Delivery, first_attempt: int) -> None:
        event = self._ack_events.setdefault(delivery.id, asyncio.Event())
        attempt = first_attempt
        while True:
            ws = await self._current_socket()
            reason = "timeout" if attempt else None
            try:
                await ws.send_json(delivery.envelope(attempt, reason))
            except (ConnectionError, RuntimeError):
                # The connection went away under us; Slack sends it again on the next one.
                await asyncio.sleep(0.05)
                continue
            delivery.record_attempt(attempt, reason)
            try:
                await asyncio.wait_for(event.wait(), self.ack_timeout)
                return
            except TimeoutError:
                if attempt >= self.max_socket_retries:
                    delivery.record_error("not acked")
                    return
                attempt += 1

    async def _current_socket(self) -> web.WebSocketResponse:
        assert self._connected is not None
        async with self._connected:
            await self._connected.wait_for(lambda: any(not ws.closed for ws in self._sockets))
            return next(ws for ws in reversed(self._sockets) if not ws.closed)

    async def _send_disconnect(self) -> None:
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_json(
                    {
                        "type": "disconnect",
                        "reason": "refresh_requested",
                        "debug_info": {"host": "lab-slack"},
                    }
                )

    def disconnect_socket(self) -> None:
        """Ask connected Socket Mode clients to reconnect, as Slack does before maintenance."""
        self._submit(self._send_disconnect()).result(START_TIMEOUT)

    def wait_for_socket(self, timeout: float = 5.0) -> None:
        """Block until a Socket Mode client has connected."""
        self.wait_for(lambda: self.socket_connections > 0, timeout, "a Socket Mode connection")

    # -- HTTP mode ------------------------------------------------------------------------

    async def _deliver_http(self, delivery: Delivery, retry_attempt: int) -> None:
        url = self.http_bot_url
        if url is None:
            delivery.record_error("no http_bot_url configured")
            return
        assert self._http is not None
        signed = signed_request(delivery, self.signing_secret, retry_attempt)
        delivery.record_attempt(retry_attempt, "http_timeout" if retry_attempt else None)
        try:
            async with self._http.post(url, data=signed.body, headers=signed.headers) as resp:
                body = await resp.text()
                payload = _ack_body_payload(body) if resp.status == 200 else None
                if payload is not None:
                    self._apply_ack_payload(delivery, payload)
                if resp.status == 200 and not delivery.acked:
                    self._settle_view(delivery, payload or {})
                delivery.record_ack(payload, http_status=resp.status, http_body=body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            delivery.record_error(f"http delivery failed: {type(exc).__name__}")

    # -- acks and response_url ------------------------------------------------------------

    def _apply_ack_payload(self, delivery: Delivery, payload: JsonDict) -> None:
        """A slash command's ack can carry a reply; Slack shows it like a response_url post."""
        if delivery.envelope_type != "slash_commands":
            return
        if "text" not in payload and "blocks" not in payload:
            return
        self._record_response(delivery, None, payload, source="ack")

    def _settle_view(self, delivery: Delivery, payload: JsonDict) -> None:
        """A view_submission's ack decides the modal's fate, as in Slack
        (https://api.slack.com/surfaces/modals#updating_response): ``errors`` keeps it
        open showing them, ``update`` replaces it, ``clear`` or a bare ack closes it."""
        if delivery.payload.get("type") != "view_submission":
            return
        view_id = str((delivery.payload.get("view") or {}).get("id", ""))
        action = payload.get("response_action")
        with self._state.lock:
            view = self._state.views.get(view_id)
            if view is None:
                return
            if action == "errors" and isinstance(payload.get("errors"), dict):
                view.errors.append(copy.deepcopy(payload["errors"]))
            elif action == "update" and isinstance(payload.get("view"), dict):
                view.versions.append(view.view)
                view.view = copy.deepcopy(payload["view"])
            else:
                view.closed = True

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        target = self._response_targets.get(request.match_info["delivery_id"])
        if target is None:
            return web.Response(status=404, text="invalid_token")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        delivery, original_ts = target
        self._record_response(delivery, original_ts, body, source="response_url")
        return web.Response(text="ok")

    def _record_response(
        self, delivery: Delivery, original_ts: str | None, body: JsonDict, *, source: str
    ) -> None:
        response_type = str(body.get("response_type") or "ephemeral")
        replace = _truthy(body.get("replace_original"))
        delete = _truthy(body.get("delete_original"))
        text = str(body.get("text") or "")
        blocks = body.get("blocks") if isinstance(body.get("blocks"), list) else []
        assert isinstance(blocks, list)
        with self._state.lock:
            self._state.response_posts.append(
                ResponseUrlPost(
                    delivery.id,
                    delivery.user,
                    delivery.channel,
                    copy.deepcopy(body),
                    response_type,
                    replace,
                    delete,
                    time.monotonic(),
                )
            )
            original = (
                self._state.find_message(delivery.channel, original_ts) if original_ts else None
            )
            if original is not None and delete:
                original.deleted = True
            elif original is not None and replace:
                original.edits.append(
                    MessageVersion(original.text, original.blocks, self._state.clock.next())
                )
                original.text = text
                original.blocks = copy.deepcopy(blocks)
            elif response_type == "in_channel":
                thread_ts = body.get("thread_ts")
                self._state.add_message(
                    Message(
                        channel=delivery.channel,
                        ts=self._state.clock.next(),
                        user=self.workspace.bot_user_id,
                        bot_id=self.workspace.bot_id,
                        text=text,
                        blocks=copy.deepcopy(blocks),
                        thread_ts=str(thread_ts) if thread_ts else None,
                    )
                )
            elif not delete:
                self._state.ephemerals.append(
                    Ephemeral(
                        delivery.channel,
                        delivery.user,
                        self._state.clock.next(),
                        text,
                        copy.deepcopy(blocks),
                        source=source,
                    )
                )

    # -- control API: acting as a user ----------------------------------------------------

    def _new_delivery(
        self,
        *,
        mode: Mode,
        envelope_type: EnvelopeType,
        user: str,
        channel: str,
        build: Callable[[str, str], JsonDict],
        accepts_response_payload: bool,
        has_response_url: bool,
        original_ts: str | None,
        tamper: Tamper,
    ) -> Delivery:
        if mode not in ("socket", "http"):
            raise ValueError(f"mode must be 'socket' or 'http', not {mode!r}")
        delivery_id = f"lab-{secrets.token_hex(8)}"
        trigger_id = f"{secrets.randbelow(10**10)}.{self.workspace.team_id}.{secrets.token_hex(8)}"
        response_url = f"{self.base_url}/_lab/response/{delivery_id}" if has_response_url else None
        payload = build(response_url or "", trigger_id)
        delivery = Delivery(
            id=delivery_id,
            mode=mode,
            envelope_type=envelope_type,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
            user=user,
            channel=channel,
            trigger_id=trigger_id,
            response_url=response_url,
            tamper=tamper,
        )
        with self._state.lock:
            self._deliveries[delivery_id] = delivery
            self._state.trigger_ids[trigger_id] = user
            if response_url is not None:
                self._response_targets[delivery_id] = (delivery, original_ts)
        return delivery

    def _dispatch(self, delivery: Delivery, retry: bool) -> Delivery:
        first_attempt = 1 if retry else 0
        if delivery.mode == "socket":
            if delivery.tamper != "none":
                raise ValueError("signature tampering only applies to HTTP mode")
            self._submit(self._deliver_socket(delivery, first_attempt))
        else:
            self._submit(self._deliver_http(delivery, first_attempt))
        return delivery

    def type_command(
        self,
        user: str,
        channel: str,
        command: str,
        text: str = "",
        *,
        mode: Mode = "socket",
        retry: bool = False,
        tamper: Tamper = "none",
    ) -> Delivery:
        """`user` types `/command text` in `channel`; returns at once (see Delivery.wait_ack)."""
        channel_id = self.workspace.require_channel(channel).id
        self.workspace.require_user(user)
        delivery = self._new_delivery(
            mode=mode,
            envelope_type="slash_commands",
            user=user,
            channel=channel_id,
            build=lambda response_url, trigger_id: dict(
                slash_command_payload(
                    self.workspace,
                    user,
                    channel_id,
                    command,
                    text,
                    response_url=response_url,
                    trigger_id=trigger_id,
                )
            ),
            accepts_response_payload=True,
            has_response_url=True,
            original_ts=None,
            tamper=tamper,
        )
        return self._dispatch(delivery, retry)

    def click_button(
        self,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        *,
        mode: Mode = "socket",
        retry: bool = False,
        tamper: Tamper = "none",
        stale: bool = False,
        forged_value: str | None = None,
    ) -> Delivery:
        """`user` clicks the element `action_id` (and `value`) on a message the bot posted.

        `stale=True` clicks the message as first posted (a client that never saw the later
        edits, e.g. an old tab); `forged_value` sends another value than the button holds
        (a tampered client): both are things real Slack lets a bot receive.
        """
        channel_id = self.workspace.require_channel(channel).id
        self.workspace.require_user(user)
        with self._state.lock:
            message = self._state.find_message(channel_id, message_ts)
            if message is None:
                raise LookupError(f"no message {message_ts} in {channel_id}")
            message = copy.deepcopy(message)
        if stale and message.edits:
            message.blocks = copy.deepcopy(message.edits[0].blocks)
            message.text = message.edits[0].text
        found_block_id, element = find_button(message, action_id, value, block_id)
        if forged_value is not None:
            element = {**element, "value": forged_value}
        action_ts = self._state.clock.next()
        delivery = self._new_delivery(
            mode=mode,
            envelope_type="interactive",
            user=user,
            channel=channel_id,
            build=lambda response_url, trigger_id: block_actions_payload(
                self.workspace,
                user,
                message,
                found_block_id,
                element,
                response_url=response_url,
                trigger_id=trigger_id,
                action_ts=action_ts,
            ),
            accepts_response_payload=False,
            has_response_url=True,
            original_ts=message_ts,
            tamper=tamper,
        )
        return self._dispatch(delivery, retry)

    def redeliver(self, delivery: Delivery) -> Delivery:
        """Send the same envelope again (same id, same payload) as a retry, as Slack does
        when it believes the first delivery was lost."""
        attempt = max(1, len(delivery.attempts))
        if delivery.mode == "socket":
            self._submit(self._deliver_socket(delivery, attempt))
        else:
            self._submit(self._deliver_http(delivery, attempt))
        return delivery

    def submit_view(
        self,
        user: str,
        view_id: str,
        values: JsonDict | None = None,
        *,
        mode: Mode = "socket",
        tamper: Tamper = "none",
    ) -> Delivery:
        """`user` presses Submit on an open modal; `values` is `state.values` as Slack sends it."""
        with self._state.lock:
            view = self._state.views.get(view_id)
            if view is None or view.kind != "modal" or view.closed:
                raise LookupError(f"no open modal {view_id}")
            if view.user != user:
                raise LookupError(f"modal {view_id} is open for {view.user}, not {user}")
            view_api = {
                **copy.deepcopy(view.view),
                "id": view.id,
                "hash": view.hash,
                "team_id": self.workspace.team_id,
            }
        channel = self.workspace.channels[0].id
        delivery = self._new_delivery(
            mode=mode,
            envelope_type="interactive",
            user=user,
            channel=channel,
            build=lambda _response_url, trigger_id: view_submission_payload(
                self.workspace, user, view_api, values or {}, trigger_id=trigger_id
            ),
            accepts_response_payload=True,
            has_response_url=False,
            original_ts=None,
            tamper=tamper,
        )
        return self._dispatch(delivery, retry=False)

    def click_view_button(
        self,
        user: str,
        view_id: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        *,
        mode: Mode = "socket",
    ) -> Delivery:
        """`user` clicks an element on a view of theirs (their Home tab, an open modal)."""
        self.workspace.require_user(user)
        with self._state.lock:
            view = self._state.views.get(view_id)
            if view is None or view.closed or view.user != user:
                raise LookupError(f"{user} has no open view {view_id}")
            view_api = {
                **copy.deepcopy(view.view),
                "id": view.id,
                "hash": view.hash,
                "team_id": self.workspace.team_id,
            }
        blocks = view_api.get("blocks") if isinstance(view_api.get("blocks"), list) else []
        found = find_element(blocks or [], action_id, value, block_id)
        if found is None:
            raise LookupError(f"no element {action_id!r} on view {view_id}")
        found_block_id, element = found
        action_ts = self._state.clock.next()
        delivery = self._new_delivery(
            mode=mode,
            envelope_type="interactive",
            user=user,
            channel="",
            build=lambda _response_url, trigger_id: view_block_actions_payload(
                self.workspace,
                user,
                view_api,
                found_block_id,
                element,
                trigger_id=trigger_id,
                action_ts=action_ts,
            ),
            accepts_response_payload=False,
            has_response_url=False,
            original_ts=None,
            tamper="none",
        )
        return self._dispatch(delivery, retry=False)

    def message_shortcut(
        self,
        user: str,
        channel: str,
        message_ts: str,
        callback_id: str,
        *,
        mode: Mode = "socket",
    ) -> Delivery:
        """`user` picks the app's message shortcut `callback_id` on a message."""
        channel_id = self.workspace.require_channel(channel).id
        self.workspace.require_user(user)
        with self._state.lock:
            message = self._state.find_message(channel_id, message_ts)
            if message is None:
                raise LookupError(f"no message {message_ts} in {channel_id}")
            message = copy.deepcopy(message)
        action_ts = self._state.clock.next()
        delivery = self._new_delivery(
            mode=mode,
            envelope_type="interactive",
            user=user,
            channel=channel_id,
            build=lambda response_url, trigger_id: message_action_payload(
                self.workspace,
                user,
                message,
                callback_id,
                response_url=response_url,
                trigger_id=trigger_id,
                action_ts=action_ts,
            ),
            accepts_response_payload=False,
            has_response_url=True,
            original_ts=None,
            tamper="none",
        )
        return self._dispatch(delivery, retry=False)

    def post_as_user(
        self, user: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> Message:
        """A person writes a message in a channel (the bot only sees it if asked to)."""
        channel_id = self.workspace.require_channel(channel).id
        self.workspace.require_user(user)
        with self._state.lock:
            message = Message(
                channel=channel_id,
                ts=self._state.clock.next(),
                user=user,
                text=text,
                blocks=[],
                thread_ts=thread_ts,
            )
            self._state.add_message(message)
            return copy.deepcopy(message)

    def send_event(self, user: str, event: JsonDict, *, mode: Mode = "socket") -> Delivery:
        """Deliver an Events API event (e.g. `app_home_opened`) on behalf of `user`."""
        self.workspace.require_user(user)
        channel = str(event.get("channel") or self.workspace.channels[0].id)
        event_id = self._state.new_id("Ev")
        event_body = {"user": user, "event_ts": self._state.clock.next(), **copy.deepcopy(event)}
        delivery = self._new_delivery(
            mode=mode,
            envelope_type="events_api",
            user=user,
            channel=channel,
            build=lambda _response_url, _trigger_id: events_api_payload(
                self.workspace, event_body, event_id=event_id
            ),
            accepts_response_payload=False,
            has_response_url=False,
            original_ts=None,
            tamper="none",
        )
        return self._dispatch(delivery, retry=False)

    def open_home(self, user: str, *, mode: Mode = "socket") -> Delivery:
        """`user` opens the app's Home tab (the `app_home_opened` event)."""
        return self.send_event(
            user, {"type": "app_home_opened", "tab": "home", "channel": "D0LABHOME"}, mode=mode
        )

    def rate_limit(self, method: str, count: int = 1) -> None:
        """The next `count` calls of `method` answer HTTP 429 with Retry-After: 1."""
        with self._state.lock:
            self._state.rate_limits[method] = count

    # -- control API: reading the conversation --------------------------------------------

    def messages(
        self, channel: str, thread_ts: str | None = None, *, include_replies: bool = False
    ) -> list[Message]:
        """Top-level messages in posting order; with `thread_ts`, the parent then its replies.

        `include_replies=True` returns every message of the channel.
        """
        channel_id = self.workspace.require_channel(channel).id
        with self._state.lock:
            alive = [m for m in self._state.messages.get(channel_id, []) if not m.deleted]
            if thread_ts is not None:
                chosen = [m for m in alive if thread_ts in (m.ts, m.thread_ts)]
            elif include_replies:
                chosen = alive
            else:
                chosen = [m for m in alive if m.thread_ts in (None, m.ts)]
            return copy.deepcopy(chosen)

    def texts(self, channel: str) -> list[tuple[str, str]]:
        """``(ts, text)`` of the channel's top-level messages in posting order: what a
        poller needs, without copying every message's blocks (a benchmark polling
        ``messages`` every few milliseconds spent a quarter of the bot's GIL on deepcopy)."""
        channel_id = self.workspace.require_channel(channel).id
        with self._state.lock:
            return [
                (m.ts, m.text)
                for m in self._state.messages.get(channel_id, [])
                if not m.deleted and m.thread_ts in (None, m.ts)
            ]

    def message(self, channel: str, ts: str) -> Message:
        channel_id = self.workspace.require_channel(channel).id
        with self._state.lock:
            found = self._state.find_message(channel_id, ts)
            if found is None:
                raise LookupError(f"no message {ts} in {channel_id}")
            return copy.deepcopy(found)

    def ephemerals(self, channel: str, user: str | None = None) -> list[Ephemeral]:
        channel_id = self.workspace.require_channel(channel).id
        with self._state.lock:
            return copy.deepcopy(
                [
                    e
                    for e in self._state.ephemerals
                    if e.channel == channel_id and (user is None or e.user == user)
                ]
            )

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self._state.lock:
            return [c for c in self._state.calls if method is None or c.method == method]

    def responses(self, delivery_id: str | None = None) -> list[ResponseUrlPost]:
        with self._state.lock:
            return [
                r
                for r in self._state.response_posts
                if delivery_id is None or r.delivery_id == delivery_id
            ]

    def deliveries(self) -> list[Delivery]:
        with self._state.lock:
            return list(self._deliveries.values())

    def views(self, user: str | None = None) -> list[View]:
        with self._state.lock:
            return copy.deepcopy(
                [v for v in self._state.views.values() if user is None or v.user == user]
            )

    def home_view(self, user: str) -> JsonDict | None:
        with self._state.lock:
            home = next(
                (v for v in self._state.views.values() if v.kind == "home" and v.user == user),
                None,
            )
            return None if home is None else copy.deepcopy(home.view)

    def files(self) -> list[UploadedFile]:
        with self._state.lock:
            return copy.deepcopy([f for f in self._state.files.values() if f.completed])

    def wait_for(
        self,
        predicate: Callable[[], _T],
        timeout: float = 5.0,
        description: str = "condition",
        interval: float = 0.02,
    ) -> _T:
        """Poll `predicate` until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {description}")
            time.sleep(interval)

    # -- control API over HTTP (/_lab/...) for the demo and CLI ---------------------------

    def _control_routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_lab/command", self._http_command),
            web.post("/_lab/click", self._http_click),
            web.post("/_lab/rate_limit", self._http_rate_limit),
            web.post("/_lab/disconnect", self._http_disconnect),
            web.post("/_lab/submit", self._http_submit),
            web.post("/_lab/home_opened", self._http_home_opened),
            web.get("/_lab/workspace", self._http_workspace),
            web.get("/_lab/messages", self._http_messages),
            web.get("/_lab/ephemerals", self._http_ephemerals),
            web.get("/_lab/calls", self._http_calls),
            web.get("/_lab/responses", self._http_responses),
            web.get("/_lab/deliveries", self._http_deliveries),
            web.get("/_lab/home", self._http_home),
            web.get("/_lab/files", self._http_files),
        ]

    async def _http_command(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            delivery = self.type_command(
                str(body["user"]),
                str(body["channel"]),
                str(body["command"]),
                str(body.get("text", "")),
                mode=body.get("mode", "socket"),
                retry=bool(body.get("retry", False)),
            )
        except (KeyError, LookupError, ValueError) as exc:
            return _control_error(exc)
        return web.json_response(delivery_json(delivery))

    async def _http_click(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            delivery = self.click_button(
                str(body["user"]),
                str(body["channel"]),
                str(body["message_ts"]),
                str(body["action_id"]),
                value=body.get("value"),
                block_id=body.get("block_id"),
                mode=body.get("mode", "socket"),
            )
        except (KeyError, LookupError, ValueError) as exc:
            return _control_error(exc)
        return web.json_response(delivery_json(delivery))

    async def _http_submit(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            values = body.get("values") or {}
            if not isinstance(values, dict):
                raise ValueError("values must be an object")
            delivery = self.submit_view(
                str(body["user"]), str(body["view_id"]), values, mode=body.get("mode", "socket")
            )
        except (KeyError, LookupError, ValueError) as exc:
            return _control_error(exc)
        return web.json_response(delivery_json(delivery))

    async def _http_home_opened(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            delivery = self.open_home(str(body["user"]), mode=body.get("mode", "socket"))
        except (KeyError, LookupError, ValueError) as exc:
            return _control_error(exc)
        return web.json_response(delivery_json(delivery))

    async def _http_workspace(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "workspace": asdict(self.workspace)})

    async def _http_rate_limit(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            self.rate_limit(str(body["method"]), int(body.get("count", 1)))
        except (KeyError, ValueError) as exc:
            return _control_error(exc)
        return web.json_response({"ok": True})

    async def _http_disconnect(self, _request: web.Request) -> web.Response:
        await self._send_disconnect()
        return web.json_response({"ok": True})

    async def _http_messages(self, request: web.Request) -> web.Response:
        try:
            found = self.messages(
                request.query["channel"],
                request.query.get("thread_ts"),
                include_replies=request.query.get("include_replies") == "true",
            )
        except (KeyError, LookupError) as exc:
            return _control_error(exc)
        return web.json_response({"ok": True, "messages": [asdict(m) for m in found]})

    async def _http_ephemerals(self, request: web.Request) -> web.Response:
        try:
            found = self.ephemerals(request.query["channel"], request.query.get("user"))
        except (KeyError, LookupError) as exc:
            return _control_error(exc)
        return web.json_response({"ok": True, "ephemerals": [asdict(e) for e in found]})

    async def _http_calls(self, request: web.Request) -> web.Response:
        found = self.calls(request.query.get("method"))
        return web.json_response({"ok": True, "calls": [asdict(c) for c in found]})

    async def _http_responses(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "responses": [asdict(r) for r in self.responses()]})

    async def _http_deliveries(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "deliveries": [delivery_json(d) for d in self.deliveries()]}
        )

    async def _http_home(self, request: web.Request) -> web.Response:
        try:
            view = self.home_view(request.query["user"])
        except KeyError as exc:
            return _control_error(exc)
        return web.json_response({"ok": True, "view": view})

    async def _http_files(self, _request: web.Request) -> web.Response:
        listed = [
            {k: v for k, v in asdict(f).items() if k != "content"} | {"size": len(f.content or b"")}
            for f in self.files()
        ]
        return web.json_response({"ok": True, "files": listed})


def delivery_json(delivery: Delivery) -> JsonDict:
    return {
        "id": delivery.id,
        "mode": delivery.mode,
        "type": delivery.envelope_type,
        "user": delivery.user,
        "channel": delivery.channel,
        "trigger_id": delivery.trigger_id,
        "attempts": [asdict(a) for a in delivery.attempts],
        "acks": [asdict(a) for a in delivery.acks],
        "errors": list(delivery.errors),
    }


async def _request_params(request: web.Request) -> JsonDict:
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST":
        if request.content_type == "application/json":
            body = _json_object(await request.text())
            raw.update(body or {})
        elif request.content_type == "multipart/form-data":
            form = await request.post()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
        else:
            raw.update(parse_qsl(await request.text(), keep_blank_values=True))
    return decode_params(raw)


async def _json_body(request: web.Request) -> JsonDict:
    return _json_object(await request.text()) or {}


def _json_object(text: str) -> JsonDict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _ack_body_payload(body: str) -> JsonDict | None:
    """Slack reads a plain-text HTTP ack body as the reply's text, and JSON as the reply."""
    if not body.strip():
        return None
    return _json_object(body) or {"text": body}


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _control_error(exc: BaseException) -> web.Response:
    return web.json_response({"ok": False, "error": f"{type(exc).__name__}: {exc}"}, status=400)
