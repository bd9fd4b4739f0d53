"""Block Kit builders (slack_sdk.models.blocks, never raw dicts), one module per kind of
message; :func:`render` turns any view model into the messages that show it."""

from __future__ import annotations

from bot.slack.blocks.approval import approval_card
from bot.slack.blocks.batch import batch_card
from bot.slack.blocks.common import Message, escape, mention, notice, refusal
from bot.slack.blocks.digest import digest_message, healthy_message
from bot.slack.blocks.report import checking, history_message, report_details, report_message
from bot.views import (
    ApprovalView,
    AuditLine,
    BatchView,
    ChatMessage,
    Checking,
    DigestView,
    HealthyDigestView,
    HistoryView,
    Notice,
    Refusal,
    ReportDetails,
    ReportView,
)


def audit_line(line: AuditLine) -> Message:
    text = (
        f"`{escape(line.action)}` by {mention(line.user)}"
        + (f" on *{escape(line.host)}*" if line.host else "")
        + (f" · fix `{escape(line.fix)}`" if line.fix else "")
        + (f" · approval `{escape(line.approval)}`" if line.approval else "")
        + (f" · {escape(line.outcome)}" if line.outcome else "")
    )
    return Message(text=text, blocks=[])


def render(message: ChatMessage) -> list[Message]:
    """The Slack messages for one view model (several only for long report details)."""
    match message:
        case Checking():
            return [checking(message)]
        case ReportView():
            return [report_message(message)]
        case ReportDetails():
            return report_details(message)
        case Notice():
            return [notice(message.text)]
        case Refusal():
            return [refusal(message.text, message.channels)]
        case ApprovalView():
            return [approval_card(message)]
        case AuditLine():
            return [audit_line(message)]
        case DigestView():
            return [digest_message(message)]
        case HealthyDigestView():
            return [healthy_message(message)]
        case HistoryView():
            return [history_message(message)]
        case BatchView():
            return [batch_card(message)]


__all__ = ["Message", "render"]
