"""``/wsus check <host>``: refuse clearly, or post at once and update in place."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.auth import Role
from bot.chat import ChatError
from bot.observability.logs import run_scope
from bot.store.audit import AuditAction, AuditRecord
from bot.store.check_posts import POSTING
from bot.store.tokens import TokenKind
from bot.usecases.context import BotContext
from bot.views import (
    Checking,
    FixButton,
    HistoryView,
    Notice,
    Refusal,
    ReportDetails,
    ReportView,
    history_rows,
)
from checks.errors import UsageError
from checks.report import Report
from handlers.target import HostTarget

log = logging.getLogger(__name__)

#: how long a fix button on a check result stays usable
FIX_BUTTON_TTL = timedelta(hours=24)
NOT_A_MEMBER_TEXT = "I am not in this channel: invite me with `/invite @wsusbot`, then try again"
HISTORY_ROWS = 15
#: beyond a check's own deadline: the time to record and post its verdict
CHECK_LEASE_MARGIN = timedelta(seconds=30)


def refuse(
    ctx: BotContext,
    user: str,
    text: str,
    host: str | None = None,
    action: AuditAction = AuditAction.CHECK_REFUSED,
    channels: tuple[str, ...] = (),
) -> Refusal:
    """Audit a refusal and return it; the caller shows it to the user alone."""
    ctx.record(
        AuditRecord(
            time=ctx.now(), user=user, action=action, host=host, detail=text, outcome="refused"
        )
    )
    return Refusal(text, channels)


def authorize_check(ctx: BotContext, user: str, channel: str) -> Refusal | None:
    if not ctx.authorizer.channel_allowed(channel):
        return refuse(
            ctx,
            user,
            "wsusbot is not enabled in this channel; use",
            channels=tuple(ctx.authorizer.allowed_channels()),
        )
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
    try:
        ts = ctx.chat.post(channel, Checking(target.name, user), thread_ts=thread_ts)
    except ChatError as exc:
        if exc.not_a_member:
            return Refusal(NOT_A_MEMBER_TEXT)
        raise
    now = ctx.now()
    # until its verdict is posted, the check is in flight: a crash leaves it "interrupted"
    post_id = ctx.services.check_posts.start(
        channel=channel,
        ts=ts,
        host=target.name,
        requested_by=user,
        owner=ctx.replica,
        now=now,
        lease_until=now + check_lease(ctx),
    )
    ctx.worker.submit(
        run_and_post(ctx, user=user, channel=channel, ts=ts, target=target, post_id=post_id)
    )
    return ts


def check_lease(ctx: BotContext) -> timedelta:
    """How long a live process may take over a check: its deadline plus posting."""
    return timedelta(seconds=ctx.services.settings.runner.host_deadline_s) + CHECK_LEASE_MARGIN


async def run_and_post(
    ctx: BotContext,
    *,
    user: str,
    channel: str,
    ts: str,
    target: HostTarget,
    post_id: int | None = None,
) -> Report:
    runner = await ctx.runner()
    # the run's own correlation id, beside the Slack request's (bot.observability.logs)
    with run_scope():
        outcome = await runner.check(target, user)
        report = outcome.report
        log.info(
            "check of %s for %s: %s (run %s)",
            target.name,
            user,
            report.verdict.value,
            outcome.run_id,
        )
    buttons = await asyncio.to_thread(_fix_buttons, ctx, report, target, outcome.run_id, channel)
    view = ReportView(report, requested_by=user, fix_buttons=buttons, run_id=outcome.run_id)
    if post_id is not None and not await asyncio.to_thread(
        ctx.services.check_posts.posting, post_id
    ):
        # recovery already told this message "interrupted": a late verdict goes in its thread
        await asyncio.to_thread(_post_late, ctx, channel, ts, view)
    else:
        await asyncio.to_thread(_post_result, ctx, channel, ts, view)
        if post_id is not None:
            await asyncio.to_thread(ctx.services.check_posts.finish, post_id)
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
) -> tuple[FixButton, ...]:
    if report.unreachable_reason:
        return ()
    now = ctx.now()
    return tuple(
        FixButton(
            fix,
            ctx.services.tokens.issue(
                TokenKind.FIX_REQUEST,
                host=target.name.lower(),
                payload={"fix": fix.id, "run_id": run_id},
                channel=channel,
                now=now,
                expires_at=now + FIX_BUTTON_TTL,
            ),
        )
        for fix in report.proposed_fixes
    )


def _post_result(ctx: BotContext, channel: str, ts: str, view: ReportView) -> None:
    try:
        ctx.chat.update(channel, ts, view)
        ctx.chat.post(channel, ReportDetails(view.report), thread_ts=ts)
    except ChatError as exc:
        log.error("posting the result for %s failed: %s", view.report.host, exc.code)


def _post_late(ctx: BotContext, channel: str, ts: str, view: ReportView) -> None:
    try:
        ctx.chat.post(channel, view, thread_ts=ts)
    except ChatError as exc:
        log.error("posting the late result for %s failed: %s", view.report.host, exc.code)


def interrupt_orphaned_checks(ctx: BotContext, *, at_startup: bool = False) -> int:
    """Tell every "checking…" message that nobody will answer any more that it was
    interrupted (lapsed lease; at start-up of a single-process store, all of them)."""
    every = at_startup and ctx.services.single_process
    told = 0
    for post in ctx.services.check_posts.orphans(ctx.now(), every_running=every):
        if not ctx.services.check_posts.interrupt(post.id):
            continue
        if post.state == POSTING:
            # the verdict is recorded; whether the message showed it is unknown
            text = (
                f"the check of {post.host} finished, but posting its result was interrupted "
                f"(the bot stopped): `/wsus history {post.host}` shows it, or run "
                f"`/wsus check {post.host}` again."
            )
        else:
            text = (
                f"the check of {post.host} was interrupted: the bot stopped before it "
                f"finished. Run `/wsus check {post.host}` again."
            )
        try:
            ctx.chat.update(post.channel, post.ts, Notice(text))
        except ChatError as exc:
            log.warning("telling %s its check was interrupted failed: %s", post.ts, exc.code)
        ctx.record(
            AuditRecord(
                time=ctx.now(),
                user=post.requested_by,
                action=AuditAction.CHECK,
                host=post.host,
                outcome="interrupted",
                detail=f"check started {post.started_at:%Y-%m-%d %H:%M:%S} UTC by {post.owner}",
            )
        )
        told += 1
    return told


def history(ctx: BotContext, host: str) -> HistoryView:
    return HistoryView(host, history_rows(ctx.services.runs.history(host, limit=HISTORY_ROWS)))
