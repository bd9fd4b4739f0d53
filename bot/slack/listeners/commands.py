"""The ``/wsus`` slash command. Ack first (Slack's 3 s), refuse user errors ephemerally,
hand slow work to the worker.

Before the ack only what memory answers: the grammar, the roles and channels, the
inventory (a refusal found there is the ack's ephemeral reply, its audit row written
first). Everything else runs on the worker after the ack: the dedupe claim in the
database, the "checking" message, history. Bolt's listener threads (five) are then held
for microseconds per command, so a burst of commands is acked at once instead of queueing
behind the database and Slack calls of the commands before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.commands import USAGE, SlashCommand, parse
from bot.slack.blocks.common import refusal as refusal_message
from bot.slack.blocks.report import catalogue_message, help_message, history_message
from bot.store.audit import AuditAction
from bot.usecases.batch.request import request_for_group
from bot.usecases.check import authorize_check, history, refuse, resolve, start_check
from bot.usecases.context import BotContext
from bot.usecases.digest import post_digest_now
from bot.views import Refusal
from checks.errors import UsageError

log = logging.getLogger(__name__)


def register(app: App, ctx: BotContext) -> None:
    @app.command("/wsus")
    def wsus(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        user = str(command.get("user_id", ""))
        channel = str(command.get("channel_id", ""))
        try:
            parsed = parse(command.get("text"))
        except UsageError as exc:
            refuse(ctx, user, str(exc), action=AuditAction.CHECK_REFUSED)
            ack(response_type="ephemeral", **refusal_message(str(exc)).as_kwargs())
            return
        handle(
            ctx,
            parsed,
            ack=ack,
            respond=respond,
            user=user,
            channel=channel,
            trigger=str(command.get("trigger_id", "")),
        )


def handle(
    ctx: BotContext,
    parsed: SlashCommand,
    *,
    ack: Ack,
    respond: Respond,
    user: str,
    channel: str,
    trigger: str,
) -> None:
    if parsed.verb == "help":
        ack(response_type="ephemeral", **help_message(USAGE).as_kwargs())
        return
    refusal = authorize_check(ctx, user, channel)
    if refusal is not None:
        ack(
            response_type="ephemeral", **refusal_message(refusal.text, refusal.channels).as_kwargs()
        )
        return
    if parsed.verb == "checks":
        ack(response_type="ephemeral", **catalogue_message(ctx.services.registry.all()).as_kwargs())
        return
    if parsed.verb == "digest":
        ack(response_type="ephemeral", text="building the digest…")

        def tell_user(text: str) -> None:
            respond(response_type="ephemeral", **refusal_message(text).as_kwargs())

        post_digest_now(ctx, user=user, channel=channel, tell_user=tell_user)
        return
    if parsed.verb == "fix":
        ack()
        _after_ack(ctx, lambda: _batch(ctx, parsed, user, channel, trigger, respond))
        return
    assert parsed.host is not None
    target = resolve(ctx, user, parsed.host)
    if isinstance(target, Refusal):
        ack(response_type="ephemeral", **refusal_message(target.text).as_kwargs())
        return
    ack()
    if parsed.verb == "history":
        name = target.name

        def show_history() -> None:
            respond(response_type="ephemeral", **history_message(history(ctx, name)).as_kwargs())

        _after_ack(ctx, show_history)
        return
    host = target

    def check() -> None:
        now = ctx.now()
        # Slack redelivers a command it thinks was lost with the same trigger_id: the
        # database says whether this one already started, so a retry never runs a second
        # check (the retry is acked too: it is the same command)
        if trigger and not ctx.services.markers.claim(
            f"slash:{trigger}",
            now,
            now + timedelta(seconds=ctx.services.settings.slack.dedupe_window_s),
        ):
            log.info("duplicate delivery of trigger %s ignored", trigger)
            return
        started = start_check(ctx, user=user, channel=channel, target=host)
        if isinstance(started, Refusal):
            respond(response_type="ephemeral", **refusal_message(started.text).as_kwargs())

    _after_ack(ctx, check)


def _batch(
    ctx: BotContext, parsed: SlashCommand, user: str, channel: str, trigger: str, respond: Respond
) -> None:
    """``/wsus fix <fix-id> group <name>`` after the ack: the batch request card."""
    assert parsed.fix is not None
    assert parsed.group is not None
    now = ctx.now()
    window = timedelta(seconds=ctx.services.settings.slack.dedupe_window_s)
    if trigger and not ctx.services.markers.claim(f"slash:{trigger}", now, now + window):
        log.info("duplicate delivery of trigger %s ignored", trigger)
        return
    refusal = request_for_group(
        ctx, user=user, channel=channel, fix_id=parsed.fix, group=parsed.group
    )
    if refusal:
        respond(response_type="ephemeral", **refusal_message(refusal).as_kwargs())


def _after_ack(ctx: BotContext, work: Callable[[], None]) -> None:
    """Run blocking follow-up work on the worker's threads, never on Bolt's."""
    ctx.worker.submit(asyncio.to_thread(work))
