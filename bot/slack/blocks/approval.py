"""The fix approval card: what will change, its state, the result, and the decision
buttons while a decision is still open."""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack import ids
from bot.slack.blocks.common import (
    Message,
    clip,
    context,
    escape,
    escape_clipped,
    header,
    md,
    mention,
    section,
)
from bot.views import ApprovalView
from checks.fixes import FixMeta, Risk

#: Slack's limit for a confirm dialog's text
CONFIRM_TEXT_LIMIT = 300
#: before/after values shown per side
VALUES_SHOWN = 12
VALUE_LIMIT = 100
#: Slack's limit for one section field's text
#: (https://api.slack.com/reference/block-kit/blocks#section)
FIELD_LIMIT = 2000
ERROR_LIMIT = 800
#: a reason typed in a modal (at most 500 characters) as shown on the card
REASON_LIMIT = 600

STATE_EMOJI = {
    "requested": ":hourglass:",
    "approved": ":gear:",
    "running": ":gear:",
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "denied": ":no_entry_sign:",
    "expired": ":alarm_clock:",
    "interrupted": ":warning:",
    "outcome_unknown": ":grey_question:",
    "withdrawn": ":heavy_multiplication_x:",
}


def confirm_for(fix: FixMeta) -> ConfirmObject | None:
    """Medium and high risk fixes ask "Run this fix?" before the click counts."""
    if fix.risk not in (Risk.MEDIUM, Risk.HIGH):
        return None
    return ConfirmObject(
        title=PlainTextObject(text="Run this fix?"),
        text=md(
            clip(
                f"*{escape(fix.title)}* ({fix.risk.value} risk) changes the host:\n"
                + "\n".join(f"• {escape(c)}" for c in fix.changes),
                CONFIRM_TEXT_LIMIT,
            )
        ),
        confirm=PlainTextObject(text="Approve and run"),
        deny=PlainTextObject(text="Cancel"),
        style="danger" if fix.risk is Risk.HIGH else None,
    )


def approval_buttons(fix: FixMeta, token: str) -> list[ButtonElement]:
    if fix.risk is Risk.MANUAL:
        return [
            ButtonElement(
                text=PlainTextObject(text="Mark done"),
                action_id=ids.APPROVAL_DONE,
                value=token,
                style="primary",
            ),
            ButtonElement(
                text=PlainTextObject(text="Cancel"), action_id=ids.APPROVAL_DENY, value=token
            ),
        ]
    return [
        ButtonElement(
            text=PlainTextObject(text="Approve"),
            action_id=ids.APPROVAL_APPROVE,
            value=token,
            style="primary",
            confirm=confirm_for(fix),
        ),
        ButtonElement(
            text=PlainTextObject(text="Deny"),
            action_id=ids.APPROVAL_DENY,
            value=token,
            style="danger",
        ),
    ]


def _flatten(data: Mapping[str, object], prefix: str = "") -> list[tuple[str, str]]:
    """Nested probe state as dotted ``key: value`` pairs (``wuauserv.Status: Running``)."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            pairs.extend(_flatten(value, name + "."))
        else:
            pairs.append((name, _plain(value)))
    return pairs


def _plain(value: object) -> str:
    if value is None or value == {}:
        return "(not set)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "(empty)"
    return str(value)


def _state_field(title: str, data: dict[str, object] | None, other: dict[str, str]) -> str:
    """One side of the Before/After fields; on the After side a changed value is bold."""
    if not data:
        return f"*{title}*\n—"
    pairs = _flatten(data)
    lines = []
    for key, value in pairs[:VALUES_SHOWN]:
        shown = escape_clipped(value, VALUE_LIMIT)
        if other and other.get(key) != value:
            shown = f"*{shown}*"
        lines.append(f"`{escape_clipped(key, VALUE_LIMIT)}`: {shown}")
    if len(pairs) > VALUES_SHOWN:
        lines.append(f"… and {len(pairs) - VALUES_SHOWN} more")
    return clip(f"*{title}*\n" + "\n".join(lines), FIELD_LIMIT)


def before_after(view: ApprovalView) -> SectionBlock | None:
    """Before and After side by side as two section fields, one ``key: value`` a line."""
    if view.before is None and view.after is None:
        return None
    before = dict(_flatten(view.before)) if view.before else {}
    return SectionBlock(
        block_id=ids.BEFORE_AFTER_BLOCK,
        fields=[
            md(_state_field("Before", view.before, {})),
            md(_state_field("After", view.after, before)),
        ],
    )


def _request_lines(view: ApprovalView) -> list[str]:
    fix = view.fix
    lines = [
        f"*Host:* {escape(view.host)}",
        f"*Fix:* `{fix.id}` — {escape(fix.title)} (risk: *{fix.risk.value}*)",
        f"*Requested by:* {mention(view.requested_by)} · "
        f"*expires:* {view.expires_at:%Y-%m-%d %H:%M} UTC",
    ]
    if view.request_reason:
        lines.append(f"*Reason:* {escape_clipped(view.request_reason, REASON_LIMIT)}")
    if fix.risk is Risk.MANUAL:
        lines.append("*Runbook (the bot does not run this fix):*")
        lines += [f"{n}. {escape(step)}" for n, step in enumerate(fix.runbook, 1)]
    else:
        lines.append("*What will change:*")
        lines += [f"• {escape(change)}" for change in fix.changes]
    if view.current:
        lines.append("*Now on the host:* " + "; ".join(escape(c) for c in view.current))
    if fix.caveat:
        lines.append(f":warning: {escape(fix.caveat)}")
    return lines


def _result_lines(view: ApprovalView) -> list[str]:
    lines = []
    if view.deny_reason:
        who = f" ({mention(view.decided_by)})" if view.decided_by else ""
        lines.append(f"*Denied because*{who}: {escape_clipped(view.deny_reason, REASON_LIMIT)}")
    if view.verification:
        lines.append("*Re-check:* " + " · ".join(escape(v) for v in view.verification))
    if view.error:
        lines.append(f"*Error:* {escape_clipped(view.error, ERROR_LIMIT)}")
    return lines


def approval_card(view: ApprovalView) -> Message:
    fix = view.fix
    status = f"{STATE_EMOJI.get(view.state, '')} *{view.state}*"
    if view.decided_by:
        status += f" by {mention(view.decided_by)}"
    if view.note:
        status += f" — {escape(view.note)}"
    blocks: list[Block] = [
        header(f"Fix request: {fix.title}"),
        section("\n".join(_request_lines(view))),
        context(f"approval `{view.approval_id}` · {status}"),
    ]
    fields = before_after(view)
    if fields is not None:
        blocks.append(fields)
    result = _result_lines(view)
    if result:
        blocks.append(section("\n".join(result)))
    if view.token is not None:
        blocks.append(
            ActionsBlock(block_id=ids.APPROVAL_BLOCK, elements=approval_buttons(fix, view.token))
        )
    return Message(text=f"fix {fix.id} on {escape(view.host)}: {view.state}", blocks=blocks)
