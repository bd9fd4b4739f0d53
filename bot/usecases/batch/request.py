"""Open a batch: from ``/wsus fix <fix-id> group <name>`` or a digest cause group's "Fix
these hosts" button. Only hosts whose latest check proposes the fix are included; the
card says exactly what will run, and waits for a second person's approval."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.auth import Role
from bot.chat import ChatError
from bot.digest.causes import Cause
from bot.store.audit import AuditAction
from bot.store.batches import BatchState
from bot.store.tokens import TokenKind
from bot.usecases.approvals.common import dig, refuse_fix, valid_token
from bot.usecases.approvals.request import TOKEN_GRACE
from bot.usecases.batch.common import (
    CARD_HOSTS,
    audit,
    batches,
    plan_from,
    reload,
    steps_csv,
    upload,
    view,
)
from bot.usecases.context import BotContext
from checks.errors import UsageError
from checks.fixes import FixMeta, get_fix
from handlers.target import HostTarget

log = logging.getLogger(__name__)

#: the fix a digest cause group's hosts can get at once: the fix their checks propose
#: (client.detection_stalled and client.agent_version both propose resetting the AU
#: state, checks/client/*.py); the other causes need a person (network, server, SUS era)
CAUSE_FIXES: dict[Cause, str] = {
    Cause.DETECTION_STALLED: "client.reset_au_state",
    Cause.OLD_AGENT: "client.reset_au_state",
}

#: how long a digest's "Fix these hosts" button stays usable
DIGEST_BUTTON_TTL = timedelta(days=1)


def refuse_batch(ctx: BotContext, user: str, text: str, *, fix: str | None = None) -> str:
    """Audit a refused batch action and return the text shown to the user alone."""
    return refuse_fix(ctx, user, text, fix=fix, action=AuditAction.BATCH_REFUSED)


def proposing(ctx: BotContext, fix_id: str, hosts: Sequence[str]) -> tuple[list[str], list[str]]:
    """(hosts whose newest check proposes ``fix_id``, the others), in the given order."""
    latest = {
        run.host: run.report
        for run in ctx.services.runs.latest_per_host(limit=None, hosts=list(hosts))
    }
    included: list[str] = []
    left_out: list[str] = []
    for host in hosts:
        report = latest.get(host.lower()) or {}
        (included if fix_id in (report.get("fixes") or ()) else left_out).append(host)
    return included, left_out


def request_for_group(
    ctx: BotContext, *, user: str, channel: str, fix_id: str, group: str
) -> str | None:
    """``/wsus fix <fix-id> group <name>``: a refusal text, or None when the card is up."""
    try:
        fix = get_fix(fix_id)
        targets = ctx.services.inventory.group(group)
    except UsageError as exc:
        return refuse_batch(ctx, user, str(exc), fix=fix_id)
    return open_batch(
        ctx,
        user=user,
        channel=channel,
        thread_ts=None,
        fix=fix,
        source=f"group {group}",
        targets=targets,
    )


def digest_button_token(
    ctx: BotContext, *, digest_id: str, cause: Cause, hosts: Sequence[str], channel: str
) -> str | None:
    """The opaque value of a cause group's "Fix these hosts" button, or None when the
    cause has no batch fix or none of its hosts is in the inventory."""
    fix = CAUSE_FIXES.get(cause)
    known = set(name.lower() for name in ctx.services.inventory.names())
    fixable = [h for h in hosts if h.lower() in known]
    if fix is None or not fixable:
        return None
    now = ctx.now()
    return ctx.services.tokens.issue(
        TokenKind.BATCH_DIGEST,
        host=None,
        payload={"digest_id": digest_id, "cause": cause.value, "fix": fix, "hosts": fixable},
        channel=channel,
        now=now,
        expires_at=now + DIGEST_BUTTON_TTL,
    )


def request_from_digest(
    ctx: BotContext, *, user: str, channel: str, message_ts: str, token_value: str
) -> str | None:
    token = valid_token(ctx, token_value, TokenKind.BATCH_DIGEST, channel)
    if token is None:
        return refuse_batch(ctx, user, "that button is not valid here (unknown or tampered)")
    if token.expires_at < ctx.now():
        return refuse_batch(ctx, user, "that digest is too old to act on; run `/wsus digest` again")
    fix_id = str(token.payload.get("fix", ""))
    # one batch per button: a double click or a second operator must not open two
    marker = f"batch_request:{token_value}"
    if not ctx.authorizer.has(user, Role.OPERATOR):
        return refuse_batch(ctx, user, _NO_OPERATOR, fix=fix_id)
    if not ctx.services.markers.claim(marker, ctx.now(), token.expires_at):
        return refuse_batch(
            ctx, user, "a batch for this cause group is already open in the thread", fix=fix_id
        )
    try:
        fix = get_fix(fix_id)
        targets = [ctx.services.inventory.resolve(str(h)) for h in token.payload.get("hosts", [])]
    except UsageError as exc:
        ctx.services.markers.release(marker)
        return refuse_batch(ctx, user, str(exc), fix=fix_id)
    cause = str(token.payload.get("cause", ""))
    refusal = open_batch(
        ctx,
        user=user,
        channel=channel,
        thread_ts=message_ts,
        fix=fix,
        source=f"digest {token.payload.get('digest_id', '')} · {cause}",
        targets=targets,
    )
    if refusal is not None:
        ctx.services.markers.release(marker)
    return refusal


_NO_OPERATOR = (
    "you need the operator role to request fixes; ask a wsusbot admin to add you to "
    "[roles] operators"
)


def open_batch(
    ctx: BotContext,
    *,
    user: str,
    channel: str,
    thread_ts: str | None,
    fix: FixMeta,
    source: str,
    targets: Sequence[HostTarget],
) -> str | None:
    if not ctx.authorizer.has(user, Role.OPERATOR):
        return refuse_batch(ctx, user, _NO_OPERATOR, fix=fix.id)
    if not fix.executable:
        return refuse_batch(
            ctx,
            user,
            f"`{fix.id}` is a manual fix (a runbook); the bot does not run it, in batches or not",
            fix=fix.id,
        )
    names = [t.name for t in targets if t.role == fix.role]
    included, left_out = proposing(ctx, fix.id, names)
    # a server's check never proposes a client fix (and the reverse): left out too
    left_out = [t.name for t in targets if t.role != fix.role] + left_out
    if not included:
        return refuse_batch(
            ctx,
            user,
            f"no host of {source} has a latest check that proposes `{fix.id}`; check the "
            "hosts first (`/wsus check <host>`), then ask again",
            fix=fix.id,
        )
    limit = ctx.services.settings.batch.max_hosts
    if len(included) > limit:
        return refuse_batch(
            ctx,
            user,
            f"{len(included)} hosts is more than one batch may hold ([batch] max_hosts = "
            f"{limit}); use a smaller group",
            fix=fix.id,
        )
    now = ctx.now()
    hosts: list[tuple[str, dict[str, Any]]] = []
    for name in included:
        facts = ctx.services.runs.previous_facts(name) or {}
        hosts.append((name, {path: dig(facts, path) for path in fix.card_facts}))
    expiry = timedelta(minutes=ctx.services.settings.approvals.expiry_minutes)
    store = batches(ctx)
    batch = store.create(
        fix_id=fix.id,
        source=source,
        requested_by=user,
        now=now,
        expires_at=now + expiry,
        channel=channel,
        thread_ts=thread_ts,
        plan=plan_from(ctx.services.settings),
        hosts=hosts,
        left_out=left_out,
    )
    token = ctx.services.tokens.issue(
        TokenKind.BATCH,
        host=None,
        payload={"batch": batch.id},
        channel=channel,
        now=now,
        # the card's Pause/Resume/Abort work while the batch runs, long after approval
        expires_at=batch.expires_at + TOKEN_GRACE,
    )
    store.set_token(batch.id, token)
    batch = reload(ctx, batch.id)
    try:
        ts = ctx.chat.post(channel, view(ctx, batch), thread_ts=thread_ts)
    except ChatError as exc:
        store.transition(
            batch.id,
            BatchState.REQUESTED,
            BatchState.WITHDRAWN,
            finished_at=now,
            reason=f"the request card could not be posted: {exc.code}",
        )
        log.warning("batch card %s could not be posted: %s", batch.id, exc.code)
        return refuse_batch(
            ctx,
            user,
            f"Slack refused the batch request card ({exc.code}); nothing was requested",
            fix=fix.id,
        )
    store.set_message(batch.id, ts)
    batch = reload(ctx, batch.id)
    if len(included) > CARD_HOSTS:
        upload(
            ctx,
            batch,
            f"{batch.id}-hosts.csv",
            steps_csv(store.steps(batch.id)),
            f"Hosts of batch {batch.id} ({len(included)})",
        )
    audit(
        ctx,
        batch,
        user,
        AuditAction.BATCH_REQUESTED,
        outcome="requested",
        detail=f"{source}: {len(included)} hosts ({len(left_out)} left out); "
        f"plan {batch.plan.to_json()}",
    )
    return None
