"""Fixes through Slack: request -> approval by a second person -> run once -> re-check.

Every transition is a compare-and-set in the database (:class:`ApprovalStore`), so double
clicks, Slack retries, stale messages and replicas can never run a fix twice. Every step
is audited. A fix is never retried; a fix interrupted by a crash is never resumed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.auth import Role
from bot.flows.context import BotContext
from bot.store.approvals import ApprovalRecord, ApprovalStore, State
from bot.store.audit import AuditAction, AuditRecord
from bot.store.tokens import TokenData
from checks.collect.fixes import FixRunner
from checks.collect.target import HostTarget
from checks.errors import CollectionError, UsageError, WsusbotError
from checks.facts import ClientFacts
from checks.fixes import FixMeta, Risk, get_fix
from checks.model import Status
from checks.regtime import RegTimeError, parse_utc_registry_time
from handlers import blocks

log = logging.getLogger(__name__)

FIX_DEADLINE_S = 120.0
TOKEN_GRACE = timedelta(days=7)
#: the seed's rule (§10): LastWaitTimeout pushed a day later means detection still fails
LWT_NOT_RECOVERED = timedelta(hours=24)

#: facts shown on the card as "now on the host", per fix
CONTEXT_PATHS: dict[str, tuple[str, ...]] = {
    "client.reset_au_state": (
        "au.AUState",
        "au.LastWaitTimeout",
        "au.DetectionStartTime",
        "services.wuauserv.state",
    ),
    "client.set_wsus_policy": (
        "policy.WUServer",
        "policy.WUStatusServer",
        "policy.UseWUServer",
        "policy.NoAutoUpdate",
    ),
    "client.restart_wuauserv": ("services.wuauserv.state", "services.wuauserv.start_mode"),
    "server.start_services": ("services.W3SVC.state", "services.WsusService.state"),
    "server.enable_anonymous_auth": (),
    "server.install_selfupdate_port80": ("wsus.install_dir",),
    "server.sharepoint_exclude_paths": (),
}


def _approvals(ctx: BotContext) -> ApprovalStore:
    return ApprovalStore(ctx.services.db)


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _refuse(
    ctx: BotContext,
    user: str,
    text: str,
    *,
    host: str | None = None,
    fix: str | None = None,
    approval: str | None = None,
) -> str:
    ctx.record(
        AuditRecord(
            time=ctx.now(),
            user=user,
            action=AuditAction.FIX_REFUSED,
            host=host,
            fix=fix,
            approval=approval,
            outcome="refused",
            detail=text,
        )
    )
    return text


def _valid_token(ctx: BotContext, token_value: str, kind: str, channel: str) -> TokenData | None:
    token = ctx.tokens.get(token_value)
    if token is None or token.kind != kind or token.channel != channel:
        return None
    return token


# ---------------------------------------------------------------- request


def request_fix(
    ctx: BotContext, *, user: str, channel: str, message_ts: str, action_id: str, token_value: str
) -> str | None:
    """An operator pressed "Request fix". Returns a refusal text, or None when posted."""
    token = _valid_token(ctx, token_value, "fix_request", channel)
    fix_id = action_id.partition(":")[2]
    if token is None or token.payload.get("fix") != fix_id:
        return _refuse(
            ctx,
            user,
            "that button is not valid here (unknown or tampered); run `/wsus check <host>` again",
        )
    host = token.host or ""
    now = ctx.now()
    if token.expires_at < now:
        return _refuse(
            ctx,
            user,
            f"that check result is too old to act on; run `/wsus check {host}` again",
            host=host,
            fix=fix_id,
        )
    if not ctx.authorizer.has(user, Role.OPERATOR):
        return _refuse(
            ctx,
            user,
            "you need the operator role to request fixes; ask a wsusbot "
            "admin to add you to [roles] operators",
            host=host,
            fix=fix_id,
        )
    try:
        fix = get_fix(fix_id)
        target = ctx.services.inventory.resolve(host)
    except UsageError as exc:
        return _refuse(ctx, user, str(exc), host=host, fix=fix_id)
    # one request per check result: a double click or a second operator must not open two
    if not ctx.services.markers.claim(f"fix_request:{token_value}", now, token.expires_at):
        return _refuse(
            ctx,
            user,
            "a request for this fix from this check result is already "
            "open in the thread; use its card, or run the check again",
            host=host,
            fix=fix_id,
        )
    facts = ctx.services.runs.previous_facts(target.name) or {}
    context = {path: _dig(facts, path) for path in CONTEXT_PATHS.get(fix.id, ())}
    expiry = timedelta(minutes=ctx.services.settings.approvals.expiry_minutes)
    approval = _approvals(ctx).create(
        host=target.name,
        fix_id=fix.id,
        requested_by=user,
        now=now,
        expires_at=now + expiry,
        channel=channel,
        thread_ts=message_ts,
        run_id=token.payload.get("run_id"),
        context=context,
    )
    approval_token = ctx.tokens.issue(
        "approval",
        host=approval.host,
        payload={"approval": approval.id},
        channel=channel,
        now=now,
        expires_at=approval.expires_at + timedelta(days=7),
    )
    card = blocks.approval_card(
        _view(approval, fix), buttons=blocks.approval_buttons(fix, approval_token)
    )
    posted = ctx.client.chat_postMessage(channel=channel, thread_ts=message_ts, **card.as_kwargs())
    _approvals(ctx).set_message(approval.id, str(posted["ts"]))
    ctx.record(
        AuditRecord(
            time=now,
            user=user,
            action=AuditAction.FIX_REQUESTED,
            host=approval.host,
            fix=fix.id,
            approval=approval.id,
            before=context or None,
            outcome="requested",
        )
    )
    return None


def _view(approval: ApprovalRecord, fix: FixMeta, **changes: Any) -> blocks.ApprovalView:
    current = tuple(
        f"{path.rsplit('.', 1)[-1]}={value}"
        for path, value in approval.context.items()
        if path.count(".") and value is not None
    )
    values: dict[str, Any] = {
        "approval_id": approval.id,
        "host": approval.host,
        "fix": fix,
        "state": approval.state.value,
        "requested_by": approval.requested_by,
        "expires_at": approval.expires_at,
        "current": current,
        "decided_by": approval.decided_by,
        "error": approval.error,
    }
    if approval.result:
        values["before"] = approval.result.get("before")
        values["after"] = approval.result.get("after")
        values["verification"] = tuple(approval.result.get("verification") or ())
    values.update(changes)
    return blocks.ApprovalView(**values)


def _update_card(ctx: BotContext, approval: ApprovalRecord, **changes: Any) -> None:
    if not (approval.channel and approval.message_ts):
        return
    card = blocks.approval_card(_view(approval, get_fix(approval.fix_id), **changes))
    try:
        ctx.client.chat_update(channel=approval.channel, ts=approval.message_ts, **card.as_kwargs())
    except SlackApiError as exc:
        log.warning("updating approval card %s failed: %s", approval.id, exc.response.get("error"))


def _say_in_thread(ctx: BotContext, approval: ApprovalRecord, text: str) -> None:
    if not approval.channel:
        return
    try:
        ctx.client.chat_postMessage(
            channel=approval.channel,
            thread_ts=approval.thread_ts or approval.message_ts,
            **blocks.notice(text).as_kwargs(),
        )
    except SlackApiError as exc:
        log.warning("thread post for %s failed: %s", approval.id, exc.response.get("error"))


# ---------------------------------------------------------------- decide


def decide(
    ctx: BotContext, *, user: str, channel: str, action_id: str, token_value: str
) -> str | None:
    """Approve / Deny / Mark done. Returns a refusal text (ephemeral) or None."""
    token = _valid_token(ctx, token_value, "approval", channel)
    approval_id = str(token.payload.get("approval", "")) if token else ""
    approval = _approvals(ctx).get(approval_id) if token else None
    if token is None or approval is None or approval.host != token.host:
        return _refuse(ctx, user, "that approval button is not valid (unknown or tampered)")
    fix = get_fix(approval.fix_id)
    decision = action_id.removeprefix("approval_")
    if decision == "deny":
        return _deny(ctx, user, approval)
    if decision == "done":
        return _mark_done(ctx, user, approval, fix)
    if decision == "approve":
        return _approve(ctx, user, approval, fix)
    return _refuse(ctx, user, "unknown action", **_about(approval))


def _about(approval: ApprovalRecord) -> dict[str, Any]:
    return {"host": approval.host, "fix": approval.fix_id, "approval": approval.id}


def _decide_once(
    ctx: BotContext,
    user: str,
    approval: ApprovalRecord,
    new: State,
    action: AuditAction,
    outcome: str,
    **values: Any,
) -> bool:
    """requested -> ``new`` by compare-and-set, audited; False when someone was first."""
    now = ctx.now()
    if new.final:
        values["finished_at"] = now
    if not _approvals(ctx).transition(
        approval.id, State.REQUESTED, new, decided_by=user, decided_at=now, **values
    ):
        return False
    ctx.record(AuditRecord(time=now, user=user, action=action, outcome=outcome, **_about(approval)))
    return True


def _deny(ctx: BotContext, user: str, approval: ApprovalRecord) -> str | None:
    if not (ctx.authorizer.has(user, Role.APPROVER) or user == approval.requested_by):
        return _refuse(
            ctx, user, "only an approver (or the requester) can deny this fix", **_about(approval)
        )
    if not _decide_once(ctx, user, approval, State.DENIED, AuditAction.FIX_DENIED, "denied"):
        return _already(ctx, approval.id)
    _update_card(ctx, _reload(ctx, approval.id))
    return None


def _mark_done(ctx: BotContext, user: str, approval: ApprovalRecord, fix: FixMeta) -> str | None:
    if fix.risk is not Risk.MANUAL:
        return _refuse(ctx, user, "only manual fixes can be marked done", **_about(approval))
    if not (ctx.authorizer.has(user, Role.OPERATOR) or ctx.authorizer.has(user, Role.APPROVER)):
        return _refuse(
            ctx,
            user,
            "you need the operator or approver role to mark a runbook done",
            **_about(approval),
        )
    if not _decide_once(
        ctx,
        user,
        approval,
        State.SUCCEEDED,
        AuditAction.FIX_MARKED_DONE,
        "marked_done",
        result={"manual": True},
    ):
        return _already(ctx, approval.id)
    fresh = _reload(ctx, approval.id)
    _update_card(ctx, fresh, note="runbook marked done; re-checking")
    ctx.worker.submit(_recheck(ctx, fresh, fix, user))
    return None


def _approve(ctx: BotContext, user: str, approval: ApprovalRecord, fix: FixMeta) -> str | None:
    about = _about(approval)
    if not ctx.authorizer.has(user, Role.APPROVER):
        return _refuse(ctx, user, "you need the approver role to approve fixes", **about)
    if fix.risk is Risk.MANUAL:
        return _refuse(
            ctx,
            user,
            "manual fixes are not run by the bot: follow the runbook, then press Mark done",
            **about,
        )
    settings = ctx.services.settings.approvals
    if (
        settings.two_person_rule
        and fix.id not in settings.self_approval_allowed
        and user == approval.requested_by
    ):
        return _refuse(
            ctx,
            user,
            "you requested this fix; a different approver must approve it (two-person rule)",
            **about,
        )
    if approval.expires_at <= ctx.now():
        _expire(ctx, approval)
        return _refuse(ctx, user, "this request has expired; request the fix again", **about)
    if not _decide_once(ctx, user, approval, State.APPROVED, AuditAction.FIX_APPROVED, "approved"):
        return _already(ctx, approval.id)
    # the buttons go at once: nobody can act on this card again
    _update_card(ctx, _reload(ctx, approval.id), state="running", note="running…")
    ctx.worker.submit(execute(ctx, approval.id))
    return None


def _reload(ctx: BotContext, approval_id: str) -> ApprovalRecord:
    approval = _approvals(ctx).get(approval_id)
    assert approval is not None
    return approval


def _already(ctx: BotContext, approval_id: str) -> str:
    current = _approvals(ctx).get(approval_id)
    state = current.state.value if current else "gone"
    who = f" by <@{current.decided_by}>" if current and current.decided_by else ""
    return f"this fix request is already {state}{who}; nothing was done"


def _expire(ctx: BotContext, approval: ApprovalRecord) -> bool:
    if not _approvals(ctx).transition(
        approval.id, State.REQUESTED, State.EXPIRED, finished_at=ctx.now()
    ):
        return False
    ctx.record(
        AuditRecord(
            time=ctx.now(),
            user="wsusbot",
            action=AuditAction.FIX_EXPIRED,
            outcome="expired",
            **_about(approval),
        )
    )
    _update_card(ctx, _reload(ctx, approval.id), note="expired before anyone approved it")
    return True


# ---------------------------------------------------------------- execute


async def execute(ctx: BotContext, approval_id: str) -> None:
    """Run an approved fix once: approved -> running -> succeeded | failed."""
    store = _approvals(ctx)
    if not await asyncio.to_thread(store.transition, approval_id, State.APPROVED, State.RUNNING):
        return
    approval = await asyncio.to_thread(_reload, ctx, approval_id)
    fix = get_fix(approval.fix_id)
    user = approval.decided_by or "wsusbot"
    audit: dict[str, Any] = {"host": approval.host, "fix": fix.id, "approval": approval.id}
    await asyncio.to_thread(
        ctx.record, AuditRecord(time=ctx.now(), user=user, action=AuditAction.FIX_STARTED, **audit)
    )
    try:
        target = ctx.services.inventory.resolve(approval.host)
        runner = FixRunner(ctx.services.winrm_client(), ctx.services.password_for)
        result = await runner.run(target, fix, time.monotonic() + FIX_DEADLINE_S)
    except WsusbotError as exc:
        reason = exc.reason if isinstance(exc, CollectionError) else type(exc).__name__
        await asyncio.to_thread(_fail, ctx, approval, f"{reason}: {exc}", user, audit)
        return
    try:
        verification, report_ok = await _verify(ctx, target, fix, user)
        outcome = "fixed" if report_ok else "still_failing"
    except WsusbotError as exc:
        # the fix ran; only the re-check failed: say so rather than leave it "running"
        verification, report_ok, outcome = [f"re-check failed: {exc}"], False, "unverified"
    payload = {**result.to_json(), "verification": verification, "outcome": outcome}
    if not await asyncio.to_thread(
        store.transition,
        approval.id,
        State.RUNNING,
        State.SUCCEEDED,
        finished_at=ctx.now(),
        result=payload,
    ):
        log.warning(
            "approval %s left 'running' while its fix ran; result kept in the log only", approval.id
        )
        return
    await asyncio.to_thread(
        ctx.record,
        AuditRecord(
            time=ctx.now(),
            user=user,
            action=AuditAction.FIX_SUCCEEDED,
            outcome=outcome,
            before=result.before,
            after=result.after,
            **audit,
        ),
    )
    fresh = await asyncio.to_thread(_reload, ctx, approval.id)
    note = (
        "fixed: the verifying checks pass"
        if report_ok
        else "the fix ran, but verifying checks still fail (see below)"
    )
    if fix.followup_minutes:
        minutes = ctx.services.settings.approvals.followup_minutes or fix.followup_minutes
        await asyncio.to_thread(
            store.add_followup,
            approval_id=approval.id,
            host=approval.host,
            due_at=ctx.now() + timedelta(minutes=minutes),
            channel=approval.channel,
            thread_ts=approval.thread_ts or approval.message_ts,
            requested_by=user,
            before={k: v for k, v in approval.context.items()},
        )
        note += f"; a follow-up check runs in {minutes} minutes (self-update takes 6-10)"
    await asyncio.to_thread(_update_card, ctx, fresh, note=note)


def _fail(
    ctx: BotContext, approval: ApprovalRecord, error: str, user: str, audit: dict[str, Any]
) -> None:
    if not _approvals(ctx).transition(
        approval.id, State.RUNNING, State.FAILED, finished_at=ctx.now(), error=error[:2000]
    ):
        return
    ctx.record(
        AuditRecord(
            time=ctx.now(),
            user=user,
            action=AuditAction.FIX_FAILED,
            outcome="failed",
            detail=error,
            **audit,
        )
    )
    _update_card(ctx, _reload(ctx, approval.id), note="failed; nothing is retried")


async def _verify(
    ctx: BotContext, target: HostTarget, fix: FixMeta, user: str
) -> tuple[list[str], bool]:
    runner = await ctx.runner()
    outcome = await runner.check(target, user)
    statuses = {f.check: f.status for f in outcome.report.findings}
    lines = [f"{check}: {statuses.get(check, Status.UNKNOWN).value}" for check in fix.verified_by]
    ok = all(statuses.get(check) in (Status.PASS, Status.SKIP) for check in fix.verified_by)
    return lines, ok


async def _recheck(ctx: BotContext, approval: ApprovalRecord, fix: FixMeta, user: str) -> None:
    target = ctx.services.inventory.resolve(approval.host)
    verification, ok = await _verify(ctx, target, fix, user)
    text = (
        "re-check after the runbook: "
        + ("passes" if ok else "still failing")
        + " — "
        + "; ".join(verification)
    )
    await asyncio.to_thread(_say_in_thread, ctx, approval, text)


# ---------------------------------------------------------------- due work, restarts


async def run_due_followups(ctx: BotContext) -> None:
    """Expire stale requests, forget expired button tokens, and run the follow-up checks
    that are due (all by the bot's clock)."""
    store = _approvals(ctx)
    await asyncio.to_thread(recover_after_restart, ctx)
    # keep expired tokens a while, so an old button still gets "too old", not "unknown"
    await asyncio.to_thread(ctx.tokens.purge, ctx.now() - TOKEN_GRACE)
    for approval in await asyncio.to_thread(store.expired_requests, ctx.now()):
        await asyncio.to_thread(_expire, ctx, approval)
    for followup in await asyncio.to_thread(store.claim_due_followups, ctx.now()):
        try:
            outcome, text = await _followup(ctx, followup.host, followup.before or {})
        except WsusbotError as exc:
            outcome, text = "unknown", f"follow-up check of {followup.host} failed: {exc}"
        await asyncio.to_thread(store.finish_followup, followup.id, outcome)
        record: ApprovalRecord | None = await asyncio.to_thread(store.get, followup.approval_id)
        if record is not None:
            await asyncio.to_thread(_say_in_thread, ctx, record, text)
        await asyncio.to_thread(
            ctx.record,
            AuditRecord(
                time=ctx.now(),
                user="wsusbot",
                action=AuditAction.FOLLOWUP,
                host=followup.host,
                fix=record.fix_id if record else None,
                approval=followup.approval_id,
                outcome=outcome,
                before=followup.before,
                detail=text,
            ),
        )


async def _followup(ctx: BotContext, host: str, before: dict[str, Any]) -> tuple[str, str]:
    target = ctx.services.inventory.resolve(host)
    runner = await ctx.runner()
    outcome = await runner.check(target, "wsusbot")
    report = outcome.report
    if report.unreachable_reason:
        return "unknown", f"follow-up: {host} could not be read ({report.unreachable_reason})"
    statuses = {f.check: f.status for f in report.findings}
    evidence = [
        f"{c}: {statuses[c].value}"
        for c in ("client.detection_stalled", "client.agent_version", "client.au_state")
        if c in statuses
    ]
    lwt_before = before.get("au.LastWaitTimeout")
    facts = outcome.facts
    lwt_now = facts.au.LastWaitTimeout if isinstance(facts, ClientFacts) and facts.au else None
    if isinstance(lwt_before, str) and lwt_now:
        try:
            moved = parse_utc_registry_time(lwt_now) - parse_utc_registry_time(lwt_before)
        except RegTimeError:
            moved = None
        if moved is not None and moved >= LWT_NOT_RECOVERED:
            return "not_recovered", (
                f"follow-up on {host}: not recovered — LastWaitTimeout moved from "
                f"{lwt_before} to {lwt_now} (+{moved.total_seconds() / 3600:.0f} h): the "
                "client still cannot complete detection against its WSUS server. "
                + "; ".join(evidence)
            )
    if (
        statuses.get("client.detection_stalled") is Status.FAIL
        or statuses.get("client.agent_version") is Status.FAIL
    ):
        return "not_recovered", f"follow-up on {host}: not recovered — " + "; ".join(evidence)
    return "recovered", f"follow-up on {host}: recovered — " + "; ".join(evidence)


def orphan_age(ctx: BotContext) -> timedelta:
    """How long an approval may stay approved/running while some replica still works on it:
    the fix's own deadline, the re-check's, and a margin. Older than that, nobody is."""
    runner = ctx.services.settings.runner
    return timedelta(seconds=FIX_DEADLINE_S + runner.host_deadline_s + 60)


def recover_after_restart(ctx: BotContext) -> None:
    """A crash may leave approvals mid-flight: never resume them, say so.

    Only orphans are touched (see :func:`orphan_age`): with several replicas, a row that is
    running right now belongs to another, live replica. Called at start-up and by due work.
    """
    store = _approvals(ctx)
    cutoff = ctx.now() - orphan_age(ctx)
    for approval in store.in_states(State.RUNNING, State.APPROVED):
        if approval.decided_at is not None and approval.decided_at > cutoff:
            continue
        if not store.transition(
            approval.id,
            approval.state,
            State.INTERRUPTED,
            finished_at=ctx.now(),
            error="the bot stopped before this fix finished",
        ):
            continue
        ctx.record(
            AuditRecord(
                time=ctx.now(),
                user="wsusbot",
                action=AuditAction.FIX_INTERRUPTED,
                outcome="interrupted",
                **_about(approval),
                detail=f"was {approval.state.value}",
            )
        )
        fresh = _reload(ctx, approval.id)
        _update_card(
            ctx,
            fresh,
            note="interrupted by a bot restart; it will not be re-run — "
            "check the host, then request the fix again if needed",
        )
        _say_in_thread(
            ctx,
            fresh,
            f"fix `{fresh.fix_id}` on {fresh.host} was interrupted by a "
            "bot restart (it may or may not have run); it is not re-run without a "
            "new approval",
        )
    # a follow-up is a read-only check: one cut short by a crash simply runs again
    store.release_stale_followups(cutoff)
