"""Post a stalled self-update digest: on schedule (exactly once per slot, guaranteed by
the database), on ``/wsus digest`` and ``wsusbot digest --now``; and run a top host's
"Check" button in the digest's thread.

Why the slot is derived from the cron trigger rather than the wall clock: APScheduler 3
does not hand a job its scheduled time, and a run that fires late (the bot restarted at
08:20 inside the misfire grace time for the 08:00 slot) must claim the 08:00 slot, not a
new 08:20 one, or a restart would post twice. The slot is therefore the newest fire time
of the digest's trigger at or before now (within the grace time), in UTC, to the minute.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.chat import ChatError
from bot.config import DigestConfig
from bot.digest.causes import Digest
from bot.digest.chart import CauseHistory, cause_history, chart_filename, render_png
from bot.digest.export import csv_filename, to_csv
from bot.digest.gather import gather
from bot.digest.trend import Trend, compare
from bot.scheduling import active, cron_trigger
from bot.store.audit import AuditAction, AuditRecord
from bot.store.tokens import TokenKind
from bot.usecases.batch.request import digest_button_token
from bot.usecases.check import authorize_check, refuse, resolve, start_check
from bot.usecases.context import BotContext
from bot.views import DigestView, HealthyDigestView, Refusal, TopHost
from checks.errors import WsusbotError

log = logging.getLogger(__name__)

#: the scheduler's misfire grace time (bot.scheduling) plus a minute of clock skew
MISFIRE_LOOKBACK = timedelta(seconds=3600 + 60)
CHECK_BUTTON_TTL = timedelta(days=7)
#: the chart's period: stalled clients by cause, one bar a day
CHART_DAYS = 30
SCHEDULER_USER = "scheduler"

#: tells the user who typed ``/wsus digest`` what went wrong (an ephemeral reply)
TellUser = Callable[[str], None]


class DigestPostError(WsusbotError):
    """The digest could not be posted (the channel, the token); exit code 1."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    digest: Digest
    trend: Trend
    slot: str
    #: the posted message's ts; None when nothing was posted (healthy and quiet)
    ts: str | None
    csv: str | None


# ------------------------------------------------------------------------- slots


def minute_slot(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def scheduled_slot(digest: DigestConfig, now: datetime) -> str:
    """The fire time this run belongs to: the trigger's newest fire time <= now."""
    trigger = cron_trigger(digest.cron, digest.timezone)
    start = now - MISFIRE_LOOKBACK
    fire = trigger.get_next_fire_time(None, start)
    newest: datetime | None = None
    while fire is not None and fire <= now:
        newest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    # outside any slot (a job moved by hand): the minute it runs is its slot
    return minute_slot(newest if newest is not None else now)


def manual_slot() -> str:
    return f"manual:{uuid.uuid4()}"


def find_digest(ctx: BotContext, digest_id: str | None) -> DigestConfig:
    digests = ctx.services.settings.digests
    if digest_id is None:
        if not digests:
            raise DigestPostError("no [[digests]] in the configuration (see docs/config.md)")
        return digests[0]
    for digest in digests:
        if digest.id == digest_id:
            return digest
    known = ", ".join(d.id for d in digests) or "none configured"
    raise DigestPostError(f"unknown digest {digest_id!r}; digests: {known}")


# ------------------------------------------------------------------------- running


async def scheduled_digest(digest_id: str) -> None:
    """APScheduler's target (a text reference in the job store): find the running bot."""
    schedules = active()
    if schedules is None:
        log.warning("digest %s fired with no running bot", digest_id)
        return
    await run_scheduled(schedules.ctx, digest_id, schedules.ctx.now())


async def run_scheduled(ctx: BotContext, digest_id: str, now: datetime) -> DigestOutcome | None:
    """Claim the slot ``now`` falls in, then build and post; None when already claimed."""
    try:
        digest = find_digest(ctx, digest_id)
    except DigestPostError as exc:
        log.error("scheduled digest: %s", exc)
        return None
    slot = scheduled_slot(digest, now)
    store = ctx.services.digests
    if not await asyncio.to_thread(store.claim_slot, digest.id, slot, now):
        log.info("digest %s slot %s already posted (another replica or a restart)", digest.id, slot)
        return None
    try:
        return await build_and_post(
            ctx, digest, slot=slot, channel=digest.channel, user=SCHEDULER_USER
        )
    except DigestPostError as exc:
        log.error("digest %s: %s", digest.id, exc)
        return None


async def post_manual(
    ctx: BotContext,
    digest: DigestConfig,
    *,
    user: str,
    channel: str | None = None,
    dry_run: bool = False,
) -> DigestOutcome:
    """``/wsus digest`` and ``wsusbot digest --now``: always posts (a slot of its own)."""
    slot = manual_slot()
    now = ctx.now()
    if not dry_run:
        await asyncio.to_thread(ctx.services.digests.claim_slot, digest.id, slot, now)
    return await build_and_post(
        ctx, digest, slot=slot, channel=channel or digest.channel, user=user, dry_run=dry_run
    )


async def build_and_post(
    ctx: BotContext,
    digest: DigestConfig,
    *,
    slot: str,
    channel: str,
    user: str,
    dry_run: bool = False,
) -> DigestOutcome:
    """Build and post, counted in wsusbot_digest_runs_total{digest, outcome}."""
    try:
        outcome = await _build_and_post(
            ctx, digest, slot=slot, channel=channel, user=user, dry_run=dry_run
        )
    except Exception:
        ctx.services.metrics.digest(digest.id, "failed")
        raise
    if dry_run:
        word = "dry_run"
    elif outcome.digest.not_read:
        word = "incomplete"
    else:
        word = "posted" if outcome.ts else "quiet"
    ctx.services.metrics.digest(digest.id, word)
    return outcome


async def _build_and_post(
    ctx: BotContext,
    digest: DigestConfig,
    *,
    slot: str,
    channel: str,
    user: str,
    dry_run: bool = False,
) -> DigestOutcome:
    now = ctx.now()
    found = await gather(ctx.services, digest, now=now, requested_by=f"digest:{digest.id}")
    store = ctx.services.digests
    previous = await asyncio.to_thread(store.previous_run, digest.id)
    stalled = found.stalled
    trend = compare(stalled, previous.stalled if previous else None)
    csv_text = None if found.fits_in_message() else to_csv(found)
    if dry_run:
        return DigestOutcome(found, trend, slot, None, csv_text)
    ts: str | None = None
    stalled_now = {host: [c.value for c in causes] for host, causes in stalled.items()}
    if stalled or digest.post_when_healthy:
        history = None
        if stalled:  # the chart goes with a digest that names stalled hosts only
            since = now - timedelta(days=CHART_DAYS)
            earlier = await asyncio.to_thread(store.runs_since, digest.id, since)
            # the stored history plus the run being posted (recorded after the post)
            runs = [(run.created_at, run.stalled) for run in earlier]
            runs.append((now, stalled_now))
            history = cause_history(digest.id, runs, now, days=CHART_DAYS)
        ts = await asyncio.to_thread(
            _post,
            ctx,
            digest,
            found,
            trend,
            channel=channel,
            csv_text=csv_text,
            now=now,
            history=history,
        )
    await asyncio.to_thread(
        store.record_run,
        digest.id,
        slot,
        now,
        stalled_now,
        channel=channel,
        message_ts=ts,
    )
    await asyncio.to_thread(
        ctx.record,
        AuditRecord(
            time=now,
            user=user,
            action=AuditAction.DIGEST_POSTED,
            outcome="posted" if ts else "healthy_quiet",
            detail=(
                f"digest {digest.id} slot {slot}: {len(stalled)} stalled, {trend.line()}"
                + "".join(f"; not read {n.server} ({n.reason})" for n in found.not_read)
            ),
        ),
    )
    return DigestOutcome(found, trend, slot, ts, csv_text)


def _post(
    ctx: BotContext,
    digest: DigestConfig,
    found: Digest,
    trend: Trend,
    *,
    channel: str,
    csv_text: str | None,
    now: datetime,
    history: CauseHistory | None,
) -> str:
    message: DigestView | HealthyDigestView
    if not found.stalled:
        message = HealthyDigestView(found)
    else:
        by_host = found.by_host()
        top = tuple(
            TopHost(
                host,
                tuple(by_host[host]),
                _token(ctx, digest, host, channel, now) if host in found.checkable else None,
            )
            for host in found.top_hosts(digest.top_hosts)
        )
        message = DigestView(
            found,
            trend,
            top,
            csv_attached=csv_text is not None,
            batch_tokens=_batch_tokens(ctx, digest, found, channel),
        )
    try:
        ts = ctx.chat.post(channel, message)
    except ChatError as exc:
        raise DigestPostError(_slack_problem(channel, exc)) from None
    if csv_text is not None:
        try:
            ctx.chat.upload(
                channel,
                thread_ts=ts,
                filename=csv_filename(found),
                content=csv_text,
                title=f"Stalled self-updates ({len(found.stalled)} hosts)",
            )
        except ChatError as exc:
            log.error(
                "digest %s: the CSV upload failed: %s", digest.id, _slack_problem(channel, exc)
            )
    if history is not None:
        _upload_chart(ctx, digest, history, channel=channel, ts=ts, now=now)
    return ts


def _upload_chart(
    ctx: BotContext,
    digest: DigestConfig,
    history: CauseHistory,
    *,
    channel: str,
    ts: str,
    now: datetime,
) -> None:
    """The 30-day chart in the digest's thread; a failure costs the picture, not the post."""
    try:
        ctx.chat.upload(
            channel,
            thread_ts=ts,
            filename=chart_filename(digest.id, now),
            content=render_png(history),
            title=f"Stalled clients by cause, last {len(history.days)} days",
        )
    except ChatError as exc:
        log.error("digest %s: the chart upload failed: %s", digest.id, _slack_problem(channel, exc))


def _batch_tokens(
    ctx: BotContext, digest: DigestConfig, found: Digest, channel: str
) -> dict[str, str]:
    """Each cause group's "Fix these hosts" button value (causes with a batch fix)."""
    tokens = {}
    for cause in found.sightings:
        hosts = [s.host for s in found.hosts(cause) if s.host in found.checkable]
        token = digest_button_token(
            ctx, digest_id=digest.id, cause=cause, hosts=hosts, channel=channel
        )
        if token is not None:
            tokens[cause.value] = token
    return tokens


def _token(ctx: BotContext, digest: DigestConfig, host: str, channel: str, now: datetime) -> str:
    return ctx.services.tokens.issue(
        TokenKind.DIGEST_CHECK,
        host=host,
        payload={"digest_id": digest.id},
        channel=channel,
        now=now,
        expires_at=now + CHECK_BUTTON_TTL,
    )


def _slack_problem(channel: str, exc: ChatError) -> str:
    error = exc.code
    if exc.not_a_member:
        return (
            f"cannot post to channel {channel}: {error}; invite the bot with "
            "`/invite @wsusbot` (check it with `wsusbot doctor`)"
        )
    return f"Slack refused the post to {channel}: {error}"


# ------------------------------------------------------------------------- chat entry points


def post_digest_now(ctx: BotContext, *, user: str, channel: str, tell_user: TellUser) -> None:
    """``/wsus digest`` (after the ack): build on the worker, post to this channel."""
    digests = ctx.services.settings.digests
    digest = next((d for d in digests if d.channel == channel), digests[0] if digests else None)
    if digest is None:
        digest = DigestConfig(id="adhoc", channel=channel)

    async def run() -> None:
        try:
            await post_manual(ctx, digest, user=user, channel=channel)
        except DigestPostError as exc:
            log.error("/wsus digest: %s", exc)
            tell_user(str(exc))
        except Exception:
            log.exception("/wsus digest failed")
            tell_user("the digest failed; see the bot's log")

    ctx.worker.submit(run())


def check_clicked(
    ctx: BotContext, *, user: str, channel: str, token: str, message_ts: str
) -> str | Refusal:
    """A top host's "Check" button: viewer role and channel first, then a check posted in
    the digest's thread. Returns the check's ts, or why nothing ran."""
    refusal = authorize_check(ctx, user, channel)
    if refusal is not None:
        return refusal
    data = ctx.services.tokens.get(token)
    now = ctx.now()
    if data is None or data.kind != TokenKind.DIGEST_CHECK or data.host is None:
        return refuse(ctx, user, "this button is not valid any more; run `/wsus digest` again")
    if data.expires_at < now:
        return refuse(ctx, user, "this digest is too old to act on; run `/wsus digest` again")
    if data.channel != channel:
        return refuse(ctx, user, "this button belongs to a digest in another channel")
    target = resolve(ctx, user, data.host)
    if isinstance(target, Refusal):
        return target
    return start_check(ctx, user=user, channel=channel, target=target, thread_ts=message_ts)
