"""Reading what Slack sent: the fields of a click, cut to sane sizes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: a button's value is one of our tokens; anything longer was not written by us
MAX_VALUE = 128


@dataclass(frozen=True, slots=True)
class Click:
    user: str
    channel: str
    message_ts: str
    action_id: str
    value: str
    trigger_id: str = ""
    #: the click came from a view (the Home tab or a modal), not from a message
    in_view: bool = False


def clicked(body: dict[str, Any], action: dict[str, Any] | None = None) -> Click:
    """The click of a block_actions payload (its first action unless ``action`` is given);
    the value is cut to a token's size, whatever a tampered client sends."""
    if action is None:
        actions = body.get("actions") or [{}]
        action = actions[0] if isinstance(actions, list) and actions else {}
    user = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id", ""))
    message_ts = str((body.get("container") or {}).get("message_ts", "")) or str(
        (body.get("message") or {}).get("ts", "")
    )
    value = str(action.get("value") or "")[:MAX_VALUE]
    container = body.get("container") or {}
    return Click(
        user,
        channel,
        message_ts,
        str(action.get("action_id", "")),
        value,
        trigger_id=str(body.get("trigger_id") or ""),
        in_view=container.get("type") == "view" if isinstance(container, dict) else False,
    )


@dataclass(frozen=True, slots=True)
class Submission:
    """A view_submission: who, the modal's metadata, and its input values by block."""

    user: str
    metadata: str
    values: dict[str, dict[str, Any]]

    def text(self, block: str, action: str, limit: int = 3000) -> str:
        value = (self.values.get(block) or {}).get(action) or {}
        return str(value.get("value") or "")[:limit] if isinstance(value, dict) else ""

    def conversation(self, block: str, action: str) -> str:
        value = (self.values.get(block) or {}).get(action) or {}
        if not isinstance(value, dict):
            return ""
        return str(value.get("selected_conversation") or "")[:64]


def submitted(body: dict[str, Any]) -> Submission:
    view = body.get("view") or {}
    state = (view.get("state") or {}).get("values") or {}
    return Submission(
        user=str((body.get("user") or {}).get("id", "")),
        metadata=str(view.get("private_metadata") or "")[:3000],
        values=state if isinstance(state, dict) else {},
    )


def metadata_fields(text: str) -> dict[str, str]:
    """The JSON object a modal's private_metadata carries (strings only; {} if not one)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v)[:MAX_VALUE] for k, v in data.items() if isinstance(v, str)}
