"""What the local Slack sends to the bot, and what came back.

A Delivery is one command, click or submission, whatever the transport; it gathers every
attempt (first send and retries) and the bot's answers (Socket Mode acks or HTTP responses).
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from lab.slack.state import JsonDict, Message
from lab.slack.workspace import Workspace

Mode = Literal["socket", "http"]
EnvelopeType = Literal["slash_commands", "interactive", "events_api"]
Tamper = Literal["none", "bad_signature", "stale_timestamp"]


@dataclass(frozen=True)
class Attempt:
    retry_attempt: int  # 0 for the first send
    retry_reason: str | None
    sent_at: float


@dataclass(frozen=True)
class Ack:
    """A Socket Mode ack, or an HTTP response from a bot in HTTP mode."""

    received_at: float
    latency: float  # seconds from the first send of this delivery
    payload: JsonDict | None = None
    http_status: int | None = None
    http_body: str | None = None


@dataclass
class Delivery:
    id: str  # the envelope id (Socket Mode) or a lab id (HTTP mode)
    mode: Mode
    envelope_type: EnvelopeType
    payload: JsonDict
    accepts_response_payload: bool
    user: str
    channel: str
    trigger_id: str | None
    response_url: str | None
    tamper: Tamper = "none"
    attempts: list[Attempt] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def envelope_id(self) -> str:
        return self.id

    @property
    def acked(self) -> bool:
        with self._changed:
            return bool(self.acks)

    @property
    def first_ack(self) -> Ack | None:
        with self._changed:
            return self.acks[0] if self.acks else None

    @property
    def ack_latency(self) -> float | None:
        ack = self.first_ack
        return None if ack is None else ack.latency

    @property
    def http_status(self) -> int | None:
        ack = self.first_ack
        return None if ack is None else ack.http_status

    def record_attempt(self, retry_attempt: int, retry_reason: str | None) -> None:
        with self._changed:
            self.attempts.append(Attempt(retry_attempt, retry_reason, time.monotonic()))
            self._changed.notify_all()

    def record_ack(
        self,
        payload: JsonDict | None = None,
        *,
        http_status: int | None = None,
        http_body: str | None = None,
    ) -> None:
        now = time.monotonic()
        with self._changed:
            first = self.attempts[0].sent_at if self.attempts else now
            self.acks.append(Ack(now, now - first, copy.deepcopy(payload), http_status, http_body))
            self._changed.notify_all()

    def record_error(self, error: str) -> None:
        with self._changed:
            self.errors.append(error)
            self._changed.notify_all()

    def wait_ack(self, timeout: float = 5.0) -> Ack:
        """Block until the bot acked (or answered over HTTP); TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self.acks or self.errors), timeout):
                raise TimeoutError(f"delivery {self.id} was not acked within {timeout}s")
            if not self.acks:
                raise ConnectionError(f"delivery {self.id} failed: {self.errors[-1]}")
            return self.acks[0]

    def wait_attempts(self, count: int, timeout: float = 5.0) -> list[Attempt]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.attempts) >= count, timeout):
                raise TimeoutError(
                    f"delivery {self.id} had {len(self.attempts)} attempts, not {count}"
                )
            return list(self.attempts)

    def envelope(self, retry_attempt: int, retry_reason: str | None) -> JsonDict:
        envelope: JsonDict = {
            "envelope_id": self.id,
            "type": self.envelope_type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if retry_attempt:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        return envelope


def slash_command_payload(
    workspace: Workspace,
    user_id: str,
    channel_id: str,
    command: str,
    text: str,
    *,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The form fields Slack posts for a slash command (Socket Mode sends the same as JSON)."""
    user = workspace.require_user(user_id)
    channel = workspace.require_channel(channel_id)
    return {
        "token": "lab-verification-token",
        "team_id": workspace.team_id,
        "team_domain": workspace.team_domain,
        "channel_id": channel.id,
        "channel_name": channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": workspace.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def find_button(
    message: Message, action_id: str, value: str | None, block_id: str | None
) -> tuple[str, JsonDict]:
    """The (block_id, element) of the clickable element on a stored message."""
    found = find_element(message.blocks, action_id, value, block_id)
    if found is None:
        described = f"{action_id!r}" + (f" with value {value!r}" if value is not None else "")
        raise LookupError(f"no element {described} on message {message.ts} in {message.channel}")
    return found


def find_element(
    blocks: list[JsonDict], action_id: str, value: str | None, block_id: str | None
) -> tuple[str, JsonDict] | None:
    """The (block_id, element) of a clickable element among ``blocks`` (a message's or a
    view's), or None."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        candidates: list[Any] = (
            list(block.get("elements", [])) if block.get("type") == "actions" else []
        )
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            candidates.append(accessory)
        for element in candidates:
            if not isinstance(element, dict) or element.get("action_id") != action_id:
                continue
            if value is not None and element.get("value") != value:
                continue
            return str(block.get("block_id", "")), element
    return None


def _action(element: JsonDict, block_id: str, action_ts: str) -> JsonDict:
    action: JsonDict = {
        "action_id": element.get("action_id"),
        "block_id": block_id,
        "type": element.get("type", "button"),
        "action_ts": action_ts,
    }
    for key in ("text", "value", "style", "confirm"):
        if key in element:
            action[key] = copy.deepcopy(element[key])
    return action


def _user(workspace: Workspace, user_id: str) -> JsonDict:
    user = workspace.require_user(user_id)
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": workspace.team_id}


def block_actions_payload(
    workspace: Workspace,
    user_id: str,
    message: Message,
    block_id: str,
    element: JsonDict,
    *,
    response_url: str,
    trigger_id: str,
    action_ts: str,
) -> JsonDict:
    channel = workspace.require_channel(message.channel)
    return {
        "type": "block_actions",
        "user": _user(workspace, user_id),
        "api_app_id": workspace.app_id,
        "token": "lab-verification-token",
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "team": {"id": workspace.team_id, "domain": workspace.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": channel.name},
        "message": message.to_api(),
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [_action(element, block_id, action_ts)],
    }


def view_submission_payload(
    workspace: Workspace,
    user_id: str,
    view: JsonDict,
    values: JsonDict,
    *,
    trigger_id: str,
) -> JsonDict:
    submitted = copy.deepcopy(view)
    submitted["state"] = {"values": copy.deepcopy(values)}
    return {
        "type": "view_submission",
        "team": {"id": workspace.team_id, "domain": workspace.team_domain},
        "user": _user(workspace, user_id),
        "api_app_id": workspace.app_id,
        "token": "lab-verification-token",
        "trigger_id": trigger_id,
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def events_api_payload(workspace: Workspace, event: JsonDict, *, event_id: str) -> JsonDict:
    return {
        "token": "lab-verification-token",
        "team_id": workspace.team_id,
        "api_app_id": workspace.app_id,
        "event": copy.deepcopy(event),
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": workspace.team_id,
                "user_id": workspace.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def view_block_actions_payload(
    workspace: Workspace,
    user_id: str,
    view: JsonDict,
    block_id: str,
    element: JsonDict,
    *,
    trigger_id: str,
    action_ts: str,
) -> JsonDict:
    """A click on a view (the Home tab or a modal): the container names the view, there
    is no channel and no response_url
    (https://api.slack.com/reference/interaction-payloads/block-actions)."""
    return {
        "type": "block_actions",
        "user": _user(workspace, user_id),
        "api_app_id": workspace.app_id,
        "token": "lab-verification-token",
        "container": {"type": "view", "view_id": view.get("id")},
        "trigger_id": trigger_id,
        "team": {"id": workspace.team_id, "domain": workspace.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": copy.deepcopy(view),
        "actions": [_action(element, block_id, action_ts)],
    }


def message_action_payload(
    workspace: Workspace,
    user_id: str,
    message: Message,
    callback_id: str,
    *,
    response_url: str,
    trigger_id: str,
    action_ts: str,
) -> JsonDict:
    """A message shortcut: ``type: message_action`` with the message, its channel and a
    response_url (https://api.slack.com/reference/interaction-payloads/shortcuts)."""
    channel = workspace.require_channel(message.channel)
    return {
        "type": "message_action",
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "action_ts": action_ts,
        "message_ts": message.ts,
        "response_url": response_url,
        "team": {"id": workspace.team_id, "domain": workspace.team_domain},
        "user": _user(workspace, user_id),
        "channel": {"id": channel.id, "name": channel.name},
        "message": message.to_api(),
        "token": "lab-verification-token",
        "is_enterprise_install": False,
        "enterprise": None,
    }
