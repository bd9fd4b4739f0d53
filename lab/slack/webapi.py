"""The Web API subset wsusbot uses, as pure request -> response logic over the state.

Transport (aiohttp) lives in server.py; this module only knows parameters and JSON.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.slack.state import (
    ApiCall,
    ConversationState,
    Ephemeral,
    JsonDict,
    Message,
    MessageVersion,
    UploadedFile,
    View,
)
from lab.slack.workspace import Channel, Workspace

MAX_BLOCKS = 50
# Parameters Slack sends as JSON text inside form bodies.
JSON_PARAMS = ("blocks", "attachments", "view", "files", "metadata")


class ApiError(Exception):
    """A Slack-style `{"ok": false, "error": ...}` answer."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: JsonDict
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Credentials:
    bot_token: str
    app_token: str


def decode_params(raw: Mapping[str, Any]) -> JsonDict:
    """Turn form fields that carry JSON text into JSON values, as Slack does."""
    params: JsonDict = dict(raw)
    for name in JSON_PARAMS:
        value = params.get(name)
        if isinstance(value, str | bytes):
            try:
                params[name] = json.loads(value)
            except ValueError:
                params[name] = _Invalid(value)
    return params


class _Invalid:
    """A JSON parameter that did not parse; kept so validation can name the error."""

    def __init__(self, raw: str | bytes) -> None:
        self.raw = raw


def redact(params: Mapping[str, Any]) -> JsonDict:
    """Recorded calls never keep a token."""
    return {k: ("<redacted>" if k == "token" else v) for k, v in params.items()}


class WebApi:
    def __init__(
        self,
        workspace: Workspace,
        state: ConversationState,
        credentials: Credentials,
        base_url: Callable[[], str],
        open_socket_url: Callable[[], str],
    ) -> None:
        self._ws = workspace
        self._state = state
        self._creds = credentials
        self._base_url = base_url
        self._open_socket_url = open_socket_url
        self._methods: dict[str, Callable[[JsonDict], JsonDict]] = {
            "api.test": lambda p: {"args": p},
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "apps.connections.open": self._apps_connections_open,
        }

    @property
    def methods(self) -> frozenset[str]:
        """The Web API methods this Slack answers (any other is ``unknown_method``)."""
        return frozenset(self._methods)

    # -- dispatch -------------------------------------------------------------------------

    def call(self, method: str, params: JsonDict, bearer: str | None) -> ApiResponse:
        token = bearer or _as_str(params.get("token"))
        if self._state.take_rate_limit(method):
            self._record(method, params, ok=False, error="ratelimited", status=429)
            return ApiResponse(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        try:
            handler = self._methods.get(method)
            if handler is None:
                raise ApiError("unknown_method")
            self._authenticate(method, token)
            body = {"ok": True, **handler(params)}
        except ApiError as exc:
            self._record(method, params, ok=False, error=exc.error, status=200)
            return ApiResponse(200, {"ok": False, "error": exc.error}, {})
        self._record(method, params, ok=True, error=None, status=200)
        return ApiResponse(200, body, {})

    def _authenticate(self, method: str, token: str | None) -> None:
        if method == "api.test":
            return
        if not token:
            raise ApiError("not_authed")
        if method == "apps.connections.open":
            expected = self._creds.app_token
        else:
            expected = self._creds.bot_token
        if token != expected:
            raise ApiError("invalid_auth")

    def _record(
        self, method: str, params: JsonDict, *, ok: bool, error: str | None, status: int
    ) -> None:
        recorded = {k: _plain(v) for k, v in redact(params).items()}
        with self._state.lock:
            self._state.calls.append(ApiCall(method, recorded, ok, error, status, time.monotonic()))

    # -- helpers --------------------------------------------------------------------------

    def _member_channel(self, params: JsonDict, name: str = "channel") -> Channel:
        channel = self._ws.channel(_require(params, name))
        if channel is None or self._ws.bot_user_id not in channel.members:
            raise ApiError("channel_not_found")
        return channel

    def _content(self, params: JsonDict, *, required: bool = True) -> tuple[str, list[JsonDict]]:
        text = _as_str(params.get("text")) or ""
        blocks = params.get("blocks")
        if isinstance(blocks, _Invalid):
            raise ApiError("invalid_blocks_format")
        if blocks is None:
            blocks = []
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise ApiError("invalid_blocks_format")
        if len(blocks) > MAX_BLOCKS:
            raise ApiError("invalid_blocks")
        if any(not isinstance(b.get("type"), str) for b in blocks):
            raise ApiError("invalid_blocks")
        if required and not text and not blocks:
            raise ApiError("no_text")
        return text, copy.deepcopy(blocks)

    def _thread(self, channel: Channel, params: JsonDict) -> str | None:
        thread_ts = _as_str(params.get("thread_ts")) or None
        if thread_ts is None:
            return None
        parent = self._state.find_message(channel.id, thread_ts)
        if parent is None:
            raise ApiError("thread_not_found")
        # A reply to a reply belongs to the parent's thread, as in Slack.
        return parent.thread_ts or parent.ts

    def _user(self, user_id: str) -> str:
        if self._ws.user(user_id) is None:
            raise ApiError("user_not_found")
        return user_id

    # -- methods --------------------------------------------------------------------------

    def _auth_test(self, _params: JsonDict) -> JsonDict:
        return {
            "url": f"{self._base_url()}/",
            "team": "WSUS Lab",
            "user": "wsusbot",
            "team_id": self._ws.team_id,
            "user_id": self._ws.bot_user_id,
            "bot_id": self._ws.bot_id,
            "app_id": self._ws.app_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: JsonDict) -> JsonDict:
        channel = self._member_channel(params)
        text, blocks = self._content(params)
        metadata = params.get("metadata")
        with self._state.lock:
            thread_ts = self._thread(channel, params)
            message = Message(
                channel=channel.id,
                ts=self._state.clock.next(),
                user=self._ws.bot_user_id,
                bot_id=self._ws.bot_id,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                metadata=metadata if isinstance(metadata, dict) else None,
            )
            self._state.add_message(message)
            return {"channel": channel.id, "ts": message.ts, "message": message.to_api()}

    def _chat_update(self, params: JsonDict) -> JsonDict:
        channel = self._member_channel(params)
        ts = _require(params, "ts")
        text, blocks = self._content(params, required=False)
        with self._state.lock:
            message = self._state.find_message(channel.id, ts)
            if message is None:
                raise ApiError("message_not_found")
            if message.user != self._ws.bot_user_id:
                raise ApiError("cant_update_message")
            message.edits.append(
                MessageVersion(message.text, message.blocks, self._state.clock.next())
            )
            if "text" in params:
                message.text = text
            if "blocks" in params:
                message.blocks = blocks
            return {
                "channel": channel.id,
                "ts": message.ts,
                "text": message.text,
                "message": message.to_api(),
            }

    def _chat_post_ephemeral(self, params: JsonDict) -> JsonDict:
        channel = self._member_channel(params)
        user = self._user(_require(params, "user"))
        if user not in channel.members:
            raise ApiError("user_not_in_channel")
        text, blocks = self._content(params)
        with self._state.lock:
            thread_ts = self._thread(channel, params)
            ts = self._state.clock.next()
            self._state.ephemerals.append(Ephemeral(channel.id, user, ts, text, blocks, thread_ts))
            return {"message_ts": ts}

    def _chat_delete(self, params: JsonDict) -> JsonDict:
        channel = self._member_channel(params)
        ts = _require(params, "ts")
        with self._state.lock:
            message = self._state.find_message(channel.id, ts)
            if message is None:
                raise ApiError("message_not_found")
            message.deleted = True
            return {"channel": channel.id, "ts": ts}

    def _chat_get_permalink(self, params: JsonDict) -> JsonDict:
        channel = self._member_channel(params)
        ts = _require(params, "message_ts")
        if self._state.find_message(channel.id, ts) is None:
            raise ApiError("message_not_found")
        return {
            "channel": channel.id,
            "permalink": f"{self._base_url()}/archives/{channel.id}/p{ts.replace('.', '')}",
        }

    def _view_param(self, params: JsonDict) -> JsonDict:
        view = params.get("view")
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            raise ApiError("invalid_arguments")
        blocks = view.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > 100:
            raise ApiError("invalid_arguments")
        if view.get("type") == "modal":
            _check_modal(view, blocks)
        return copy.deepcopy(view)

    def _new_view(self, user: str, view: JsonDict, kind: str) -> View:
        view_id = self._state.new_id("V")
        return View(view_id, user, view, kind, _view_hash(view))

    def _views_open(self, params: JsonDict) -> JsonDict:
        trigger_id = _require(params, "trigger_id")
        view = self._view_param(params)
        with self._state.lock:
            user = self._state.trigger_ids.pop(trigger_id, None)
            if user is None:
                raise ApiError("invalid_trigger_id")
            stored = self._new_view(user, view, "modal")
            self._state.views[stored.id] = stored
            return {"view": _view_api(stored, self._ws.team_id)}

    def _views_update(self, params: JsonDict) -> JsonDict:
        view = self._view_param(params)
        view_id = _as_str(params.get("view_id"))
        external_id = _as_str(params.get("external_id"))
        with self._state.lock:
            stored = self._state.views.get(view_id or "")
            if stored is None and external_id:
                stored = next(
                    (
                        v
                        for v in self._state.views.values()
                        if v.view.get("external_id") == external_id
                    ),
                    None,
                )
            if stored is None:
                raise ApiError("not_found")
            expected_hash = _as_str(params.get("hash"))
            if expected_hash and expected_hash != stored.hash:
                raise ApiError("hash_conflict")
            stored.versions.append(stored.view)
            stored.view = view
            stored.hash = _view_hash(view)
            return {"view": _view_api(stored, self._ws.team_id)}

    def _views_publish(self, params: JsonDict) -> JsonDict:
        user = self._user(_require(params, "user_id"))
        view = self._view_param(params)
        if view.get("type") != "home":
            raise ApiError("invalid_arguments")
        with self._state.lock:
            stored = next(
                (v for v in self._state.views.values() if v.kind == "home" and v.user == user), None
            )
            if stored is None:
                stored = self._new_view(user, view, "home")
                self._state.views[stored.id] = stored
            else:
                stored.versions.append(stored.view)
                stored.view = view
                stored.hash = _view_hash(view)
            return {"view": _view_api(stored, self._ws.team_id)}

    def _files_get_upload_url(self, params: JsonDict) -> JsonDict:
        filename = _require(params, "filename")
        try:
            length = int(_require(params, "length"))
        except ValueError:
            raise ApiError("invalid_arguments") from None
        file_id = self._state.new_id("F")
        with self._state.lock:
            self._state.files[file_id] = UploadedFile(file_id, filename, length)
        return {"file_id": file_id, "upload_url": f"{self._base_url()}/_upload/{file_id}"}

    def _files_complete_upload(self, params: JsonDict) -> JsonDict:
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            raise ApiError("invalid_arguments")
        channel: Channel | None = None
        if params.get("channel_id"):
            channel = self._member_channel(params, "channel_id")
        comment = _as_str(params.get("initial_comment"))
        with self._state.lock:
            thread_ts = self._thread(channel, params) if channel is not None else None
            completed: list[UploadedFile] = []
            for entry in entries:
                stored = (
                    self._state.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
                )
                if stored is None or stored.content is None:
                    raise ApiError("file_not_found")
                stored.title = _as_str(entry.get("title")) or stored.filename
                stored.completed = True
                stored.channel = channel.id if channel else None
                stored.thread_ts = thread_ts
                stored.initial_comment = comment
                completed.append(stored)
            if channel is not None:
                # Slack shares the files as one message in the channel (or thread).
                self._state.add_message(
                    Message(
                        channel=channel.id,
                        ts=self._state.clock.next(),
                        user=self._ws.bot_user_id,
                        bot_id=self._ws.bot_id,
                        text=comment or "",
                        blocks=[],
                        thread_ts=thread_ts,
                        files=[f.id for f in completed],
                    )
                )
            return {"files": [_file_api(f) for f in completed]}

    def _users_info(self, params: JsonDict) -> JsonDict:
        user = self._ws.user(_require(params, "user"))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user.to_api(self._ws.team_id)}

    def _conversations_info(self, params: JsonDict) -> JsonDict:
        channel = self._ws.channel(_require(params, "channel"))
        if channel is None:
            raise ApiError("channel_not_found")
        return {"channel": channel.to_api(self._ws.bot_user_id)}

    def _conversations_members(self, params: JsonDict) -> JsonDict:
        channel = self._member_channel(params)
        return {"members": list(channel.members), "response_metadata": {"next_cursor": ""}}

    def _usergroups_list(self, params: JsonDict) -> JsonDict:
        include_users = str(params.get("include_users", "")).lower() in ("1", "true")
        groups = []
        for group in self._ws.usergroups:
            api = group.to_api(self._ws.team_id)
            if not include_users:
                api.pop("users")
            groups.append(api)
        return {"usergroups": groups}

    def _usergroups_users_list(self, params: JsonDict) -> JsonDict:
        group = self._ws.usergroup(_require(params, "usergroup"))
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group.members)}

    def _apps_connections_open(self, _params: JsonDict) -> JsonDict:
        return {"url": self._open_socket_url()}


def _text_within(value: Any, limit: int) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") == "plain_text"
        and 0 < len(str(value.get("text") or "")) <= limit
    )


def _check_modal(view: JsonDict, blocks: list[Any]) -> None:
    """Slack's rules for a modal (https://api.slack.com/reference/surfaces/views): a
    plain-text title of at most 24 characters; submit and close likewise; a submit
    button whenever the modal has an input block; private_metadata at most 3,000
    characters and callback_id at most 255."""
    if not _text_within(view.get("title"), 24):
        raise ApiError("invalid_arguments")
    for key in ("submit", "close"):
        if key in view and not _text_within(view[key], 24):
            raise ApiError("invalid_arguments")
    has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if has_input and "submit" not in view:
        raise ApiError("invalid_arguments")
    if len(str(view.get("private_metadata") or "")) > 3000:
        raise ApiError("invalid_arguments")
    if len(str(view.get("callback_id") or "")) > 255:
        raise ApiError("invalid_arguments")


def _require(params: JsonDict, name: str) -> str:
    value = _as_str(params.get(name))
    if not value:
        raise ApiError("invalid_arguments")
    return value


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, _Invalid):
        return value.raw if isinstance(value.raw, str) else value.raw.decode(errors="replace")
    return copy.deepcopy(value)


def _view_hash(view: JsonDict) -> str:
    digest = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()
    return f"{int(time.time())}.{digest[:8]}"


def _view_api(view: View, team_id: str) -> JsonDict:
    return {
        **copy.deepcopy(view.view),
        "id": view.id,
        "team_id": team_id,
        "hash": view.hash,
        "state": {"values": {}},
    }


def _file_api(stored: UploadedFile) -> JsonDict:
    return {
        "id": stored.id,
        "name": stored.filename,
        "title": stored.title,
        "size": len(stored.content or b""),
    }
