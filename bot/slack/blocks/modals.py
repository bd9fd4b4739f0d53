"""Modals: the reason asked before a fix is requested or denied, and "Check a host".

Slack's limits for a modal (https://api.slack.com/reference/surfaces/views): title,
submit and close texts at most 24 characters, ``private_metadata`` at most 3,000
characters, ``callback_id`` at most 255. A plain-text input may hold at most 3,000
characters (https://api.slack.com/reference/block-kit/block-elements#input); the bot asks
for less, since a reason is shown on a card.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.slack import ids
from bot.slack.blocks.common import clip, context, escape, section
from bot.usecases.approvals.common import REASON_MAX, REASON_MIN
from bot.views import CheckPrompt, Modal, PromptKind, ReasonPrompt
from checks.fixes import Risk

TITLE_LIMIT = 24
METADATA_LIMIT = 3000
HOST_MAX = 255


class ModalTooLargeError(ValueError):
    """private_metadata over Slack's limit: a bug in the caller, never sent."""


def _plain(text: str, limit: int = TITLE_LIMIT) -> PlainTextObject:
    return PlainTextObject(text=clip(text, limit), emoji=True)


def _reason_modal(prompt: ReasonPrompt) -> View:
    fix = prompt.fix
    manual = fix.risk is Risk.MANUAL
    if prompt.kind is PromptKind.REQUEST:
        callback, title, submit = ids.REQUEST_REASON_VIEW, "Request a fix", "Request"
        label = "Why is this fix needed?"
        hint = "Kept in the audit trail and shown on the approval card."
    else:
        callback = ids.DENY_REASON_VIEW
        title, submit = ("Cancel the runbook", "Cancel it") if manual else ("Deny the fix", "Deny")
        label = "Why is it denied?" if not manual else "Why is it cancelled?"
        hint = "Kept in the audit trail and shown on the approval card."
    blocks: list[Block] = [
        section(f"*{escape(fix.title)}* on *{escape(prompt.host)}* (risk: {fix.risk.value})"),
        InputBlock(
            block_id=ids.REASON_BLOCK,
            label=_plain(label, 2000),
            hint=_plain(hint, 2000),
            element=PlainTextInputElement(
                action_id=ids.REASON_INPUT,
                multiline=True,
                min_length=REASON_MIN,
                max_length=REASON_MAX,
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=callback,
        title=_plain(title),
        submit=_plain(submit),
        close=_plain("Back"),
        private_metadata=prompt.metadata,
        blocks=blocks,
    )


def _check_modal(prompt: CheckPrompt) -> View:
    channel = ConversationSelectElement(
        action_id=ids.CHANNEL_INPUT,
        initial_conversation=prompt.channel,
        filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
    )
    return View(
        type="modal",
        callback_id=ids.CHECK_HOST_VIEW,
        title=_plain("Check a host"),
        submit=_plain("Check"),
        close=_plain("Cancel"),
        private_metadata=prompt.metadata,
        blocks=[
            InputBlock(
                block_id=ids.HOST_BLOCK,
                label=_plain("Host (a name in the inventory)", 2000),
                element=PlainTextInputElement(
                    action_id=ids.HOST_INPUT,
                    initial_value=prompt.host,
                    max_length=HOST_MAX,
                ),
            ),
            InputBlock(
                block_id=ids.CHANNEL_BLOCK,
                label=_plain("Post the result in", 2000),
                element=channel,
            ),
            context("The check runs as `/wsus check` would: the result is posted there."),
        ],
    )


def modal_view(modal: Modal) -> dict[str, object]:
    """The ``view`` argument of views.open."""
    if len(modal.metadata) > METADATA_LIMIT:
        raise ModalTooLargeError(f"private_metadata of {len(modal.metadata)} characters")
    match modal:
        case ReasonPrompt():
            view = _reason_modal(modal)
        case CheckPrompt():
            view = _check_modal(modal)
    result: dict[str, object] = view.to_dict()
    return result
