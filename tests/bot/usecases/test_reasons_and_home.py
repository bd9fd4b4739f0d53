"""Reasons typed in the request/deny modals, and the App Home's contents, at the use-case
seam (a fake chat, a real SQLite store)."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.store.approvals import State
from bot.store.audit import AuditAction
from bot.usecases.approvals.common import REASON_KEY, REASON_MAX
from bot.usecases.approvals.decide import Decision, decide, prepare_deny
from bot.usecases.approvals.request import prepare_request, request_fix
from bot.usecases.home import home, home_scope
from bot.views import ApprovalView, PromptKind, ReasonPrompt
from tests.bot.usecases.test_approvals import (
    APPR,
    CHANNEL,
    CHECK_TS,
    NOBODY,
    OPER,
    RESTART,
    Env,
    fix_button,
    press,
    requested,
)


def test_request_click_opens_a_reason_prompt_and_changes_nothing(env: Env) -> None:
    token = fix_button(env, RESTART)
    prompt = prepare_request(
        env.ctx, user=OPER, channel=CHANNEL, fix_id=RESTART, token_value=token, message_ts="1.2"
    )
    assert isinstance(prompt, ReasonPrompt)
    assert prompt.kind is PromptKind.REQUEST
    assert prompt.host == "xp01"
    assert json.loads(prompt.metadata) == {
        "token": token,
        "fix": RESTART,
        "channel": CHANNEL,
        "ts": "1.2",
    }
    assert env.approvals() == []
    assert env.audit() == []


def test_a_user_without_the_role_gets_no_modal(env: Env) -> None:
    refusal = prepare_request(
        env.ctx,
        user=NOBODY,
        channel=CHANNEL,
        fix_id=RESTART,
        token_value=fix_button(env, RESTART),
        message_ts="1.2",
    )
    assert isinstance(refusal, str)
    assert "operator role" in refusal
    assert env.actions() == [AuditAction.FIX_REFUSED]


def test_the_request_reason_is_kept_audited_and_shown(env: Env) -> None:
    messy = "  clients   in\nbuilding 4\t stopped  " + "x" * 1000
    assert (
        request_fix(
            env.ctx,
            user=OPER,
            channel=CHANNEL,
            message_ts=CHECK_TS,
            fix_id=RESTART,
            token_value=fix_button(env, RESTART),
            reason=messy,
        )
        is None
    )
    (approval,) = env.approvals()
    kept = approval.context[REASON_KEY]
    assert kept.startswith("clients in building 4 stopped xxx")
    assert len(kept) == REASON_MAX
    (card,) = env.cards()
    assert card.request_reason == kept
    # the reason is not taken for a fact of the host
    assert all("reason" not in line for line in card.current)
    (record,) = env.audit(AuditAction.FIX_REQUESTED)
    assert record.detail == f"reason: {kept}"
    assert REASON_KEY not in (record.before or {})


def test_deny_prompt_then_denial_keeps_the_reason(env: Env) -> None:
    card = requested(env)
    assert card.token is not None
    prompt = prepare_deny(
        env.ctx, user=APPR, channel=CHANNEL, token_value=card.token, origin={"channel": CHANNEL}
    )
    assert isinstance(prompt, ReasonPrompt)
    assert prompt.kind is PromptKind.DENY
    assert json.loads(prompt.metadata) == {"channel": CHANNEL, "token": card.token}
    assert env.approvals(State.DENIED) == []
    assert (
        decide(
            env.ctx,
            user=APPR,
            channel=CHANNEL,
            decision=Decision.DENY,
            token_value=card.token,
            reason="change freeze",
        )
        is None
    )
    (denied,) = env.approvals(State.DENIED)
    assert denied.result == {"deny_reason": "change freeze"}
    update = env.card_updates()[-1]
    assert update.state == "denied"
    assert update.deny_reason == "change freeze"
    assert update.before is None
    (record,) = env.audit(AuditAction.FIX_DENIED)
    assert record.detail == "reason: change freeze"


def test_deny_prompt_refuses_who_may_not_deny_and_decided_requests(env: Env) -> None:
    card = requested(env)
    assert card.token is not None
    refusal = prepare_deny(env.ctx, user=NOBODY, channel=CHANNEL, token_value=card.token, origin={})
    assert isinstance(refusal, str)
    assert "only an approver" in refusal
    assert press(env, card, Decision.DENY, APPR) is None
    again = prepare_deny(env.ctx, user=APPR, channel=CHANNEL, token_value=card.token, origin={})
    assert isinstance(again, str)
    assert "already denied" in again


def test_home_lists_open_requests_for_approvers_only(env: Env) -> None:
    requested(env)
    approver = home(env.ctx, APPR)
    (pending,) = approver.pending
    assert isinstance(pending, ApprovalView)
    assert pending.token is not None
    token = env.services.tokens.get(pending.token)
    assert token is not None
    assert token.channel == home_scope(APPR)
    assert home(env.ctx, OPER).pending == ()
    # with no [roles] viewers everyone may look, but only approvers decide
    assert home(env.ctx, NOBODY).pending == ()
    # an expired request is not offered
    env.clock.advance(timedelta(days=2))
    assert home(env.ctx, APPR).pending == ()
