"""The App Home tab and what is started from it: the open fix requests an approver may
decide there, the failing hosts, and the "Check a host" modal.

A Home tab belongs to one user and has no channel, so the decision buttons on it carry
approval tokens bound to that user's Home (:func:`home_scope`): a token copied into
another user's payload is refused like one from another channel. Every click is checked
again on the server (roles, expiry, the two-person rule) by the same use cases a card in
a channel uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.auth import Role
from bot.chat import ChatError
from bot.store.approvals import State
from bot.store.tokens import TokenKind
from bot.usecases.approvals.common import approvals, card
from bot.usecases.approvals.request import TOKEN_GRACE
from bot.usecases.check import authorize_check, refuse, resolve, start_check
from bot.usecases.context import BotContext
from bot.views import CheckPrompt, HomeView, Refusal, history_rows
from checks.fixes import get_fix
from checks.model import Status
from handlers.target import HostTarget

log = logging.getLogger(__name__)

HOME_ROWS = 200
#: open requests shown with buttons (a decision token is issued for each one shown)
PENDING_ON_HOME = 10
#: failing hosts shown, newest first
FAILING_ON_HOME = 15
HOME_SCOPE_PREFIX = "home:"


def home_scope(user: str) -> str:
    """The "channel" a Home tab's buttons are bound to (the tokens' channel column)."""
    return (HOME_SCOPE_PREFIX + user)[:64]


def home(ctx: BotContext, user: str, *, notice: str | None = None) -> HomeView:
    """The App Home of ``user``: verdicts for viewers; open requests for approvers."""
    if not ctx.authorizer.has(user, Role.VIEWER):
        return HomeView((), allowed=False)
    rows = history_rows(ctx.services.runs.latest_per_host(limit=HOME_ROWS))
    all_failing = tuple(row for row in rows if row.verdict is Status.FAIL)
    failing = all_failing[:FAILING_ON_HOME]
    pending = []
    more = 0
    if ctx.authorizer.has(user, Role.APPROVER):
        now = ctx.now()
        open_requests = sorted(
            (a for a in approvals(ctx).in_states(State.REQUESTED) if a.expires_at > now),
            key=lambda a: a.requested_at,
        )
        more = max(0, len(open_requests) - PENDING_ON_HOME)
        for approval in open_requests[:PENDING_ON_HOME]:
            token = ctx.services.tokens.issue(
                TokenKind.APPROVAL,
                host=approval.host,
                payload={"approval": approval.id},
                channel=home_scope(user),
                now=now,
                expires_at=approval.expires_at + TOKEN_GRACE,
            )
            pending.append(card(approval, get_fix(approval.fix_id), token=token))
    return HomeView(
        rows,
        pending=tuple(pending),
        pending_more=more,
        failing=failing,
        failing_more=len(all_failing) - len(failing),
        notice=notice,
    )


def publish_home(ctx: BotContext, user: str, *, notice: str | None = None) -> None:
    try:
        ctx.chat.publish_home(user, home(ctx, user, notice=notice))
    except ChatError as exc:
        log.warning("views.publish for %s failed: %s", user, exc.code)


def check_prompt(ctx: BotContext, user: str, host: str | None = None) -> CheckPrompt | Refusal:
    """The "Check a host" modal (``host`` filled in from a failing host's button)."""
    if not ctx.authorizer.has(user, Role.VIEWER):
        return refuse(
            ctx,
            user,
            "you need the viewer role to run checks; ask a wsusbot admin to add you "
            "to [roles] viewers",
        )
    # the first channel of [slack] channels, as configured (the operators' own, usually)
    channels = ctx.services.settings.slack.channels
    first = channels[0] if channels else None
    return CheckPrompt(metadata="home", host=host[:255] if host else None, channel=first)


@dataclass(frozen=True, slots=True)
class CheckInputErrors:
    """Why a "Check a host" submission was refused, by field (shown in the modal)."""

    host: str | None = None
    channel: str | None = None


def check_input(
    ctx: BotContext, user: str, host_text: str, channel: str
) -> HostTarget | CheckInputErrors:
    """The modal's host and channel, checked as ``/wsus check`` checks them."""
    if not channel:
        return CheckInputErrors(channel="pick the channel the result is posted in")
    refusal = authorize_check(ctx, user, channel)
    if refusal is not None:
        allowed = ", ".join(f"<#{c}>" for c in refusal.channels)
        return CheckInputErrors(channel=refusal.text + (f" {allowed}" if allowed else ""))
    target = resolve(ctx, user, host_text)
    if isinstance(target, Refusal):
        return CheckInputErrors(host=target.text)
    return target


def check_from_home(ctx: BotContext, *, user: str, channel: str, target: HostTarget) -> None:
    """After the modal closed: post and run the check; a refusal goes to the user's Home."""
    started = start_check(ctx, user=user, channel=channel, target=target)
    if isinstance(started, Refusal):
        publish_home(ctx, user, notice=started.text)
