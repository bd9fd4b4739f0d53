"""The modals' Block Kit: within Slack's limits, the metadata carried unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack import ids
from bot.slack.blocks.modals import METADATA_LIMIT, REASON_MAX, ModalTooLargeError, modal_view
from bot.views import CheckPrompt, PromptKind, ReasonPrompt
from checks.fixes import FIXES

HOSTILE = "<!channel> <@U1> & *bold*"


def titles(view: dict[str, Any]) -> list[str]:
    return [view[k]["text"] for k in ("title", "submit", "close") if k in view]


@pytest.mark.parametrize("kind", list(PromptKind))
@pytest.mark.parametrize("fix", FIXES, ids=[f.id for f in FIXES])
def test_reason_modals_fit_slack_limits(kind: PromptKind, fix: Any) -> None:
    view = modal_view(ReasonPrompt(kind, HOSTILE, fix, '{"token":"t"}'))
    assert view["type"] == "modal"
    assert all(0 < len(t) <= 24 for t in titles(view))
    assert view["private_metadata"] == '{"token":"t"}'
    expected = ids.REQUEST_REASON_VIEW if kind is PromptKind.REQUEST else ids.DENY_REASON_VIEW
    assert view["callback_id"] == expected
    (field,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert field["block_id"] == ids.REASON_BLOCK
    assert field["element"]["action_id"] == ids.REASON_INPUT
    assert field["element"]["max_length"] == REASON_MAX
    # the host is shown escaped: it cannot ping a channel from the modal
    assert "<!channel>" not in view["blocks"][0]["text"]["text"]


def test_check_modal_prefills_host_and_channel() -> None:
    view = modal_view(CheckPrompt("home", host="xp01", channel="C0WSUS"))
    host, channel = (b for b in view["blocks"] if b["type"] == "input")
    assert host["element"]["initial_value"] == "xp01"
    assert channel["element"]["type"] == "conversations_select"
    assert channel["element"]["initial_conversation"] == "C0WSUS"
    assert all(0 < len(t) <= 24 for t in titles(view))


def test_metadata_over_slacks_limit_is_never_sent() -> None:
    with pytest.raises(ModalTooLargeError):
        modal_view(CheckPrompt("x" * (METADATA_LIMIT + 1)))
