"""`/wsus check <host>` from Slack: refuse clearly, or post at once and update in place."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.errors import SlackApiError

from bot.auth import Role
from bot.flows.context import BotContext
from bot.store.audit import AuditAction, AuditRecord
from checks.collect.target import HostTarget
from checks.errors import UsageError
from checks.report import Report
from handlers import blocks

log = logging.getLogger(__name__)

#: how long a fix button on a check result stays usable
FIX_BUTTON_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Shown to the user (ephemeral); nothing ran."""

    text: str


def refuse(
    ctx: BotContext,
    user: str,
    text: str,
    host: str | None = None,
    action: AuditAction = AuditAction.CHECK_REFUSED,
) -> Refusal:
    ctx.record(
        AuditRecord(
            time=ctx.now(), user=user, action=action, host=host, detail=text, outcome="refused"
        )
    )
    return Refusal(text)


def authorize_check(ctx: BotContext, user: str, channel: str) -> Refusal | None:
    if not ctx.authorizer.channel_allowed(channel):
        allowed = ", ".join(f"<#{c}>" for c in ctx.authorizer.allowed_channels())
        return refuse(ctx, user, f"wsusbot is not enabled in this channel; use {allowed}")
    if not ctx.authorizer.has(user, Role.VIEWER):
        return refuse(
            ctx,
            user,
            "you need the viewer role to run checks; ask a wsusbot admin to add you "
            "to [roles] viewers",
        )
    return None


def resolve(ctx: BotContext, user: str, host_text: str) -> HostTarget | Refusal:
    try:
        return ctx.services.inventory.resolve(host_text)
    except UsageError as exc:
        return refuse(ctx, user, str(exc), host=None)


def start_check(
    ctx: BotContext, *, user: str, channel: str, target: HostTarget, thread_ts: str | None = None
) -> str | Refusal:
    """Post the placeholder now and run the check in the background. Returns its ts."""
    placeholder = blocks.checking(target.name, user)
    try:
        posted = ctx.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            **placeholder.as_kwargs(),
        )
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in ("channel_not_found", "not_in_channel"):
            return Refusal(
                "I am not in this channel: invite me with `/invite @wsusbot`, then try again"
            )
        raise
    ts = str(posted["ts"])
    ctx.worker.submit(run_and_post(ctx, user=user, channel=channel, ts=ts, target=target))
    return ts


async def run_and_post(
    ctx: BotContext, *, user: str, channel: str, ts: str, target: HostTarget
) -> Report:
    runner = await ctx.runner()
    outcome = await runner.check(target, user)
    report = outcome.report
    buttons = await asyncio.to_thread(_fix_buttons, ctx, report, target, outcome.run_id, channel)
    message = blocks.report_message(
        report, requested_by=user, fix_buttons=buttons, run_id=outcome.run_id
    )
    await asyncio.to_thread(_post_result, ctx, channel, ts, message, report)
    await asyncio.to_thread(
        ctx.record,
        AuditRecord(
            time=ctx.now(),
            user=user,
            action=AuditAction.CHECK,
            host=target.name.lower(),
            outcome=report.verdict.value,
            detail=report.unreachable_reason or f"run {outcome.run_id}",
        ),
    )
    return report


def _fix_buttons(
    ctx: BotContext, report: Report, target: HostTarget, run_id: int | None, channel: str
) -> list[blocks.FixButton]:
    if report.unreachable_reason:
        return []
    buttons = []
    now = ctx.now()
    for fix in report.proposed_fixes:
        token = ctx.tokens.issue(
            "fix_request",
            host=target.name.lower(),
            payload={"fix": fix.id, "run_id": run_id},
            channel=channel,
            now=now,
            expires_at=now + FIX_BUTTON_TTL,
        )
        buttons.append(blocks.FixButton(fix, token))
    return buttons


def _post_result(
    ctx: BotContext, channel: str, ts: str, message: blocks.Message, report: Report
) -> None:
    try:
        ctx.client.chat_update(channel=channel, ts=ts, **message.as_kwargs())
        for detail in blocks.report_details(report):
            ctx.client.chat_postMessage(channel=channel, thread_ts=ts, **detail.as_kwargs())
    except SlackApiError as exc:
        log.error("posting the result for %s failed: %s", report.host, exc.response.get("error"))
