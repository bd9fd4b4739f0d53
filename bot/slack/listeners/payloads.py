"""Reading what Slack sent: the fields of a click, cut to sane sizes."""

from __future__ import annotations

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
    return Click(user, channel, message_ts, str(action.get("action_id", "")), value)
