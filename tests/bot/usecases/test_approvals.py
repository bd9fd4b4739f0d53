"""The fix approval use cases against a FakeChat, a fixed clock and SQLite: request ->
decide (approve / deny / mark done), with every refusal, the two-person rule, expiry,
compare-and-set losses and a Slack failure after the request row was written.

Nothing here runs a fix: the worker records the jobs it is handed and runs none."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.auth import Authorizer
from bot.config import load_settings
from bot.services import Services
from bot.store.approvals import ApprovalRecord, State
from bot.store.audit import AuditAction, AuditRecord
from bot.store.tokens import TokenKind
from bot.usecases.approvals.decide import Decision, decide
from bot.usecases.approvals.request import TOKEN_GRACE, request_fix
from bot.usecases.check import FIX_BUTTON_TTL, _fix_buttons
from bot.usecases.context import BotContext
from bot.views import ApprovalView
from checks.fixes import Risk, get_fix
from checks.model import Finding, Status
from checks.report import Report
from tests.bot.fakes import FakeChat, FakeClock, RecordingWorker
from tests.checks.factories import client_doc

OPER, OPER2, APPR, APPR2, NOBODY = "U0OPER", "U0OPER2", "U0APPR", "U0APPR2", "U0NOBODY"
CHANNEL, OTHER = "C0WSUS", "C0OTHER"
#: the ts of the check result whose "Request fix" button is pressed
CHECK_TS = "1764071000.000001"

RESTART = "client.restart_wuauserv"
RESET = "client.reset_au_state"
SHAREPOINT = "server.sharepoint_exclude_paths"


@dataclass
class Env:
    ctx: BotContext
    chat: FakeChat
    clock: FakeClock
    worker: RecordingWorker

    @property
    def services(self) -> Services:
        return self.ctx.services

    def audit(self, action: str | None = None) -> list[AuditRecord]:
        return self.services.audit.query(action=action)

    def actions(self) -> list[str]:
        return [record.action for record in self.audit()]

    def approvals(self, *states: State) -> list[ApprovalRecord]:
        return self.services.approvals.in_states(*(states or tuple(State)))

    def stored(self, approval_id: str) -> ApprovalRecord:
        record = self.services.approvals.get(approval_id)
        assert record is not None
        return record

    def cards(self) -> list[ApprovalView]:
        """Approval cards posted (successfully)."""
        return self.chat.views(ApprovalView, "post")

    def card_updates(self) -> list[ApprovalView]:
        return self.chat.views(ApprovalView, "update")


def _config(
    tmp_path: Path,
    *,
    operators: tuple[str, ...],
    approvers: tuple[str, ...],
    approvals: dict[str, Any],
) -> Path:
    lines = [
        "[store]",
        'url = "sqlite:///wsusbot.sqlite"',
        "",
        "[[servers]]",
        'name = "wsus01"',
        'address = "127.0.0.11"',
        'wsus_url = "http://127.0.0.11:8530"',
        "",
        "[[clients]]",
        'name = "xp01"',
        'address = "127.0.0.21"',
        'server = "wsus01"',
        "",
        "[roles]",
        f"operators = {json.dumps(list(operators))}",
        f"approvers = {json.dumps(list(approvers))}",
        "",
        "[approvals]",
        *(f"{key} = {json.dumps(value)}" for key, value in approvals.items()),
    ]
    path = tmp_path / "wsusbot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


MakeEnv = Callable[..., Env]


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[MakeEnv]:
    opened: list[Services] = []

    def make(
        *,
        operators: tuple[str, ...] = (OPER, OPER2, APPR),
        approvers: tuple[str, ...] = (APPR, APPR2),
        **approvals: Any,
    ) -> Env:
        assert not opened, "one Env per test (one database)"
        settings = load_settings(
            _config(tmp_path, operators=operators, approvers=approvers, approvals=approvals),
            env={},
        )
        assert settings.store.url == f"sqlite:///{tmp_path.resolve()}/wsusbot.sqlite"
        clock = FakeClock()
        services = Services.open(settings, clock=clock)
        opened.append(services)
        chat = FakeChat()
        worker = RecordingWorker().start()
        ctx = BotContext(
            services=services,
            chat=chat,
            authorizer=Authorizer(settings.roles, settings.slack),
            worker=worker,  # type: ignore[arg-type]
        )
        return Env(ctx, chat, clock, worker)

    yield make
    for services in opened:
        services.close()


@pytest.fixture
def env(make_env: MakeEnv) -> Env:
    return make_env()


# ---------------------------------------------------------------- helpers


def fix_button(
    env: Env,
    fix_id: str,
    *,
    host: str = "xp01",
    channel: str = CHANNEL,
    run_id: int | None = None,
) -> str:
    """A "Request fix" token, issued as ``bot.usecases.check._fix_buttons`` issues it."""
    now = env.ctx.now()
    return env.services.tokens.issue(
        TokenKind.FIX_REQUEST,
        host=host.lower(),
        payload={"fix": fix_id, "run_id": run_id},
        channel=channel,
        now=now,
        expires_at=now + FIX_BUTTON_TTL,
    )


def press_request(
    env: Env, token: str, fix_id: str, *, user: str = OPER, channel: str = CHANNEL
) -> str | None:
    return request_fix(
        env.ctx, user=user, channel=channel, message_ts=CHECK_TS, fix_id=fix_id, token_value=token
    )


def requested(
    env: Env, fix_id: str = RESTART, *, user: str = OPER, host: str = "xp01"
) -> ApprovalView:
    """Press "Request fix" on a fresh check result; the approval card that was posted."""
    before = len(env.cards())
    assert press_request(env, fix_button(env, fix_id, host=host), fix_id, user=user) is None
    cards = env.cards()
    assert len(cards) == before + 1
    return cards[-1]


def press(
    env: Env, view: ApprovalView, decision: Decision, user: str, *, channel: str = CHANNEL
) -> str | None:
    assert view.token is not None, "this card shows no buttons"
    return decide(env.ctx, user=user, channel=channel, decision=decision, token_value=view.token)


def previous_run(
    env: Env, facts: dict[str, Any] | None, *, host: str = "xp01", ago_min: int = 5
) -> int:
    finished = env.ctx.now() - timedelta(minutes=ago_min)
    report = Report(
        host=host,
        role="client",
        findings=(Finding("client.au_state", Status.FAIL, "AUState is not 2", fix=RESET),),
        started_at=finished - timedelta(seconds=20),
        finished_at=finished,
    )
    return env.services.runs.record(report, facts, "U0OPER")


def assert_refused_only(env: Env, text: str | None, *mentions: str) -> AuditRecord:
    """Refused with ``mentions`` in the text, audited once as fix_refused, nothing else."""
    assert text is not None
    for mention in mentions:
        assert mention in text, (mention, text)
    assert env.chat.of(ok=None) == []
    assert env.worker.jobs == []
    [record] = env.audit()
    assert record.action == AuditAction.FIX_REFUSED
    assert record.outcome == "refused"
    assert record.detail == text
    return record


# ---------------------------------------------------------------- request: refusals


def test_unknown_token_is_refused(env: Env) -> None:
    text = press_request(env, "no-such-token", RESTART)
    record = assert_refused_only(env, text, "not valid here", "/wsus check")
    assert record.host is None
    assert env.approvals() == []


def test_tampered_token_value_is_refused(env: Env) -> None:
    token = fix_button(env, RESTART)
    for forged in (token[:-3] + "xyz", "x" * 5000, ""):
        assert "not valid here" in (press_request(env, forged, RESTART) or "")
    assert env.chat.of(ok=None) == []
    assert env.actions() == [AuditAction.FIX_REFUSED] * 3
    assert env.approvals() == []


def test_token_for_another_fix_is_refused(env: Env) -> None:
    # the button's value names a fix; the token must have been issued for that fix
    token = fix_button(env, RESTART)
    assert_refused_only(env, press_request(env, token, RESET), "not valid here")
    assert env.approvals() == []


def test_token_of_another_kind_is_refused(env: Env) -> None:
    now = env.ctx.now()
    token = env.services.tokens.issue(
        TokenKind.APPROVAL,
        host="xp01",
        payload={"fix": RESTART},
        channel=CHANNEL,
        now=now,
        expires_at=now + FIX_BUTTON_TTL,
    )
    assert_refused_only(env, press_request(env, token, RESTART), "not valid here")


def test_token_from_another_channel_is_refused(env: Env) -> None:
    token = fix_button(env, RESTART, channel=CHANNEL)
    assert_refused_only(env, press_request(env, token, RESTART, channel=OTHER), "not valid here")
    assert env.approvals() == []
    # the same token is still good where it was issued
    assert press_request(env, token, RESTART) is None


def test_expired_check_result_is_refused(env: Env) -> None:
    token = fix_button(env, RESTART)
    env.clock.advance(FIX_BUTTON_TTL + timedelta(seconds=1))
    record = assert_refused_only(env, press_request(env, token, RESTART), "too old", "xp01")
    assert (record.host, record.fix) == ("xp01", RESTART)
    assert env.approvals() == []


def test_check_result_at_its_last_second_is_still_good(env: Env) -> None:
    token = fix_button(env, RESTART)
    env.clock.advance(FIX_BUTTON_TTL)
    assert press_request(env, token, RESTART) is None


@pytest.mark.parametrize("user", [NOBODY, APPR2])
def test_operator_role_is_needed_to_request(env: Env, user: str) -> None:
    # APPR2 is an approver only: approving is not requesting
    token = fix_button(env, RESTART)
    record = assert_refused_only(
        env, press_request(env, token, RESTART, user=user), "operator role"
    )
    assert (record.user, record.host, record.fix) == (user, "xp01", RESTART)
    assert env.approvals() == []


def test_unknown_host_is_refused(env: Env) -> None:
    token = fix_button(env, RESTART, host="ghost01")
    record = assert_refused_only(
        env, press_request(env, token, RESTART), "'ghost01' is not in the inventory"
    )
    assert record.host == "ghost01"
    assert env.approvals() == []


def test_unknown_fix_is_refused(env: Env) -> None:
    token = fix_button(env, "client.format_c")
    record = assert_refused_only(env, press_request(env, token, "client.format_c"), "unknown fix")
    assert record.fix == "client.format_c"


def test_refused_requests_leave_the_button_usable(env: Env) -> None:
    token = fix_button(env, RESTART)
    assert press_request(env, token, RESTART, user=NOBODY) is not None
    assert press_request(env, token, RESTART, channel=OTHER) is not None
    assert press_request(env, token, RESTART) is None
    assert len(env.cards()) == 1


# ---------------------------------------------------------------- request: the card


def test_request_posts_one_card_in_the_thread(env: Env) -> None:
    now = env.ctx.now()
    token = fix_button(env, RESTART)
    assert press_request(env, token, RESTART) is None
    [call] = env.chat.of(ok=None)
    assert (call.kind, call.channel, call.thread_ts) == ("post", CHANNEL, CHECK_TS)
    view = call.message
    assert isinstance(view, ApprovalView)
    assert (view.host, view.fix.id, view.state, view.requested_by) == (
        "xp01",
        RESTART,
        "requested",
        OPER,
    )
    assert view.expires_at == now + timedelta(minutes=60)
    assert view.decided_by is None
    assert view.token is not None
    stored = env.stored(view.approval_id)
    assert stored.state is State.REQUESTED
    assert (stored.channel, stored.thread_ts, stored.message_ts) == (CHANNEL, CHECK_TS, call.ts)
    # the decision token belongs to this approval, this channel, and outlives the request
    approval_token = env.services.tokens.get(view.token)
    assert approval_token is not None
    assert approval_token.kind == TokenKind.APPROVAL
    assert approval_token.payload == {"approval": view.approval_id}
    assert approval_token.channel == CHANNEL
    assert approval_token.expires_at == stored.expires_at + TOKEN_GRACE
    [record] = env.audit()
    assert (record.action, record.user, record.host, record.fix, record.approval) == (
        AuditAction.FIX_REQUESTED,
        OPER,
        "xp01",
        RESTART,
        view.approval_id,
    )
    assert env.worker.jobs == []


def test_buttons_from_the_check_use_case_are_accepted(env: Env) -> None:
    """The token as the check use case really issues it (``_fix_buttons``)."""
    run_id = previous_run(env, None)
    report = Report(
        host="xp01",
        role="client",
        findings=(Finding("client.services", Status.FAIL, "wuauserv is stopped", fix=RESTART),),
    )
    target = env.services.inventory.resolve("XP01")
    [button] = _fix_buttons(env.ctx, report, target, run_id, CHANNEL)
    assert button.fix.id == RESTART
    assert press_request(env, button.token, RESTART) is None
    [view] = env.cards()
    assert env.stored(view.approval_id).run_id == run_id


def test_one_request_per_check_result(env: Env) -> None:
    token = fix_button(env, RESTART)
    assert press_request(env, token, RESTART) is None
    # a double click, and a second operator on the same result
    for user in (OPER, OPER2):
        text = press_request(env, token, RESTART, user=user)
        assert text is not None
        assert "already open" in text
    assert len(env.cards()) == 1
    assert len(env.chat.of(ok=None)) == 1
    assert len(env.approvals(State.REQUESTED)) == 1
    assert env.actions() == [AuditAction.FIX_REQUESTED] + [AuditAction.FIX_REFUSED] * 2


def test_a_new_check_result_may_request_again(env: Env) -> None:
    requested(env, RESTART)
    requested(env, RESTART)
    assert len(env.approvals(State.REQUESTED)) == 2


def test_card_shows_the_fixes_card_facts_from_the_previous_run(env: Env) -> None:
    lwt = "2026.11.26 12.00.00"
    # an older run with other values, then the newest run with facts, then an unreachable
    # run without facts: the card shows the newest readable facts
    previous_run(env, client_doc(**{"au.AUState": 2}), ago_min=30)
    run_id = previous_run(
        env,
        client_doc(
            **{
                "au.AUState": 3,
                "au.LastWaitTimeout": lwt,
                "au.DetectionStartTime": None,
                "services.wuauserv.state": "Stopped",
            }
        ),
        ago_min=10,
    )
    previous_run(env, None, ago_min=1)
    token = fix_button(env, RESET, run_id=run_id)
    assert press_request(env, token, RESET) is None
    [view] = env.cards()
    assert view.current == ("AUState=3", f"LastWaitTimeout={lwt}", "state=Stopped")
    stored = env.stored(view.approval_id)
    expected = {
        "au.AUState": 3,
        "au.LastWaitTimeout": lwt,
        "au.DetectionStartTime": None,
        "services.wuauserv.state": "Stopped",
    }
    assert stored.context == expected
    assert set(stored.context) == set(get_fix(RESET).card_facts)
    assert stored.run_id == run_id
    [record] = env.audit(AuditAction.FIX_REQUESTED)
    assert record.before == expected


def test_card_shows_no_facts_without_a_previous_run(env: Env) -> None:
    view = requested(env, RESTART)
    assert view.current == ()
    assert env.stored(view.approval_id).context == {
        "services.wuauserv.state": None,
        "services.wuauserv.start_mode": None,
    }


# ---------------------------------------------------------------- request: Slack fails


@pytest.mark.parametrize("code", ["ratelimited", "not_in_channel"])
def test_card_post_failure_withdraws_the_request_and_the_button_works_again(
    env: Env, code: str
) -> None:
    token = fix_button(env, RESTART)
    env.chat.fail_next("post", code)
    text = press_request(env, token, RESTART)
    assert text is not None
    assert code in text
    assert "nothing was requested" in text
    assert "Press the button again" in text
    assert env.cards() == []
    [failed_call] = env.chat.of("post", ok=False)
    assert failed_call.failed == code
    withdrawn_view = failed_call.message
    assert isinstance(withdrawn_view, ApprovalView)
    [withdrawn] = env.approvals()
    assert withdrawn.id == withdrawn_view.approval_id
    assert withdrawn.state is State.WITHDRAWN
    assert withdrawn.finished_at == env.ctx.now()
    assert withdrawn.error == f"the request card could not be posted: {code}"
    assert withdrawn.message_ts is None
    [refusal] = env.audit()
    assert refusal.action == AuditAction.FIX_REFUSED
    assert refusal.approval == withdrawn.id
    assert env.worker.jobs == []

    # pressing again, same token: one card, one open request
    assert press_request(env, token, RESTART) is None
    [view] = env.cards()
    assert view.approval_id != withdrawn.id
    assert env.stored(view.approval_id).state is State.REQUESTED
    assert [a.id for a in env.approvals(State.REQUESTED)] == [view.approval_id]
    assert env.stored(withdrawn.id).state is State.WITHDRAWN
    assert env.actions() == [AuditAction.FIX_REFUSED, AuditAction.FIX_REQUESTED]

    # the card nobody saw can never be approved
    assert withdrawn_view.token is not None
    text = decide(
        env.ctx,
        user=APPR,
        channel=CHANNEL,
        decision=Decision.APPROVE,
        token_value=withdrawn_view.token,
    )
    assert text is not None
    assert "already withdrawn" in text
    assert env.stored(withdrawn.id).state is State.WITHDRAWN
    assert env.worker.jobs == []


# ---------------------------------------------------------------- decide: refusals


def test_unknown_or_tampered_approval_token_is_refused(env: Env) -> None:
    view = requested(env)
    assert view.token is not None
    calls = len(env.chat.of(ok=None))
    fix_token = fix_button(env, RESTART)
    now = env.ctx.now()
    later = now + timedelta(hours=1)
    no_such_approval = env.services.tokens.issue(
        TokenKind.APPROVAL,
        host="xp01",
        payload={"approval": "apr_0000"},
        channel=CHANNEL,
        now=now,
        expires_at=later,
    )
    other_host = env.services.tokens.issue(
        TokenKind.APPROVAL,
        host="wsus01",
        payload={"approval": view.approval_id},
        channel=CHANNEL,
        now=now,
        expires_at=later,
    )
    forged = [view.token[:-3] + "xyz", "apr_0000", "x" * 5000, "", fix_token]
    forged += [no_such_approval, other_host]
    for value in forged:
        text = decide(
            env.ctx, user=APPR, channel=CHANNEL, decision=Decision.APPROVE, token_value=value
        )
        assert text is not None
        assert "not valid" in text
    assert env.stored(view.approval_id).state is State.REQUESTED
    assert len(env.chat.of(ok=None)) == calls
    assert env.worker.jobs == []
    assert env.actions().count(AuditAction.FIX_REFUSED) == len(forged)


def test_approval_token_from_another_channel_is_refused(env: Env) -> None:
    view = requested(env)
    for decision in Decision:
        text = press(env, view, decision, APPR, channel=OTHER)
        assert text is not None
        assert "not valid" in text
    assert env.stored(view.approval_id).state is State.REQUESTED
    assert env.card_updates() == []
    assert env.worker.jobs == []


@pytest.mark.parametrize("user", [OPER2, NOBODY])
def test_approver_role_is_needed_to_approve(env: Env, user: str) -> None:
    view = requested(env)
    text = press(env, view, Decision.APPROVE, user)
    assert text is not None
    assert "approver role" in text
    assert env.stored(view.approval_id).state is State.REQUESTED
    [record] = env.audit(AuditAction.FIX_REFUSED)
    assert (record.user, record.approval, record.host, record.fix) == (
        user,
        view.approval_id,
        "xp01",
        RESTART,
    )
    assert env.card_updates() == []
    assert env.worker.jobs == []


# ---------------------------------------------------------------- two-person rule


def test_requester_cannot_approve_their_own_request(env: Env) -> None:
    view = requested(env, user=APPR)
    text = press(env, view, Decision.APPROVE, APPR)
    assert text is not None
    assert "two-person rule" in text
    assert env.stored(view.approval_id).state is State.REQUESTED
    assert env.worker.jobs == []
    assert env.card_updates() == []
    assert env.actions() == [AuditAction.FIX_REQUESTED, AuditAction.FIX_REFUSED]


def test_a_different_approver_approves_and_one_job_is_submitted(env: Env) -> None:
    view = requested(env, user=APPR)
    assert press(env, view, Decision.APPROVE, APPR) is not None
    assert press(env, view, Decision.APPROVE, APPR2) is None
    stored = env.stored(view.approval_id)
    assert stored.state is State.APPROVED
    assert stored.decided_by == APPR2
    assert stored.decided_at == env.ctx.now()
    assert stored.finished_at is None
    [job] = env.worker.jobs
    assert job.name == "execute"
    assert job.args["approval_id"] == view.approval_id
    # the card loses its buttons at once and says running
    [update] = env.chat.of("update")
    assert (update.channel, update.ts) == (CHANNEL, stored.message_ts)
    assert isinstance(update.message, ApprovalView)
    assert update.message.state == "running"
    assert update.message.token is None
    assert update.message.decided_by == APPR2
    [record] = env.audit(AuditAction.FIX_APPROVED)
    assert (record.user, record.approval, record.outcome) == (APPR2, view.approval_id, "approved")


def test_self_approval_allowed_lets_a_listed_fix_be_self_approved(make_env: MakeEnv) -> None:
    env = make_env(self_approval_allowed=[RESTART])
    listed = requested(env, RESTART, user=APPR)
    assert press(env, listed, Decision.APPROVE, APPR) is None
    assert env.stored(listed.approval_id).state is State.APPROVED
    assert env.stored(listed.approval_id).decided_by == APPR
    # a fix that is not listed still needs a second person
    other = requested(env, RESET, user=APPR)
    text = press(env, other, Decision.APPROVE, APPR)
    assert text is not None
    assert "two-person rule" in text
    assert env.stored(other.approval_id).state is State.REQUESTED
    assert [job.args["approval_id"] for job in env.worker.jobs] == [listed.approval_id]


def test_two_person_rule_off_lets_any_fix_be_self_approved(make_env: MakeEnv) -> None:
    env = make_env(two_person_rule=False)
    view = requested(env, RESET, user=APPR)
    assert press(env, view, Decision.APPROVE, APPR) is None
    assert env.stored(view.approval_id).state is State.APPROVED


def test_self_approval_still_needs_the_approver_role(make_env: MakeEnv) -> None:
    env = make_env(self_approval_allowed=[RESTART])
    view = requested(env, RESTART, user=OPER)
    text = press(env, view, Decision.APPROVE, OPER)
    assert text is not None
    assert "approver role" in text
    assert env.stored(view.approval_id).state is State.REQUESTED


def test_a_failed_card_update_after_approval_still_runs_once(env: Env) -> None:
    view = requested(env)
    env.chat.fail_next("update", "message_not_found")
    assert press(env, view, Decision.APPROVE, APPR) is None
    assert env.stored(view.approval_id).state is State.APPROVED
    assert len(env.worker.named("execute")) == 1
    assert [c.failed for c in env.chat.of("update", ok=None)] == ["message_not_found"]


# ---------------------------------------------------------------- deny


def test_requester_may_deny_their_own_request(env: Env) -> None:
    view = requested(env, user=OPER)
    assert press(env, view, Decision.DENY, OPER) is None
    stored = env.stored(view.approval_id)
    assert stored.state is State.DENIED
    assert stored.decided_by == OPER
    assert stored.finished_at == env.ctx.now()
    [update] = env.card_updates()
    assert (update.state, update.token, update.decided_by) == ("denied", None, OPER)
    assert env.worker.jobs == []
    [record] = env.audit(AuditAction.FIX_DENIED)
    assert (record.user, record.outcome) == (OPER, "denied")


def test_an_approver_may_deny(env: Env) -> None:
    view = requested(env)
    assert press(env, view, Decision.DENY, APPR2) is None
    assert env.stored(view.approval_id).state is State.DENIED


@pytest.mark.parametrize("user", [OPER2, NOBODY])
def test_others_cannot_deny(env: Env, user: str) -> None:
    view = requested(env, user=OPER)
    text = press(env, view, Decision.DENY, user)
    assert text is not None
    assert "only an approver (or the requester)" in text
    assert env.stored(view.approval_id).state is State.REQUESTED
    assert env.card_updates() == []


# ---------------------------------------------------------------- manual fixes


def test_manual_fix_cannot_be_approved(env: Env) -> None:
    view = requested(env, SHAREPOINT, host="wsus01")
    assert view.fix.risk is Risk.MANUAL
    assert view.host == "wsus01"
    text = press(env, view, Decision.APPROVE, APPR)
    assert text is not None
    assert "manual fixes are not run by the bot" in text
    assert "Mark done" in text
    assert env.stored(view.approval_id).state is State.REQUESTED
    assert env.worker.jobs == []


def test_manual_fix_marked_done_by_an_operator_succeeds_and_rechecks(env: Env) -> None:
    view = requested(env, SHAREPOINT, host="wsus01", user=OPER)
    assert press(env, view, Decision.DONE, OPER2) is None
    stored = env.stored(view.approval_id)
    assert stored.state is State.SUCCEEDED
    assert stored.result == {"manual": True}
    assert stored.decided_by == OPER2
    assert stored.finished_at == env.ctx.now()
    [update] = env.card_updates()
    assert update.state == "succeeded"
    assert update.token is None
    assert update.note == "runbook marked done; re-checking"
    [job] = env.worker.jobs
    assert job.name == "recheck_after_runbook"
    assert job.args["user"] == OPER2
    assert job.args["approval"].id == view.approval_id
    [record] = env.audit(AuditAction.FIX_MARKED_DONE)
    assert (record.user, record.outcome) == (OPER2, "marked_done")


def test_an_approver_may_mark_a_runbook_done(env: Env) -> None:
    view = requested(env, SHAREPOINT, host="wsus01")
    assert press(env, view, Decision.DONE, APPR2) is None
    assert env.stored(view.approval_id).state is State.SUCCEEDED


def test_mark_done_needs_a_role(env: Env) -> None:
    view = requested(env, SHAREPOINT, host="wsus01")
    text = press(env, view, Decision.DONE, NOBODY)
    assert text is not None
    assert "operator or approver role" in text
    assert env.stored(view.approval_id).state is State.REQUESTED
    assert env.worker.jobs == []


def test_only_manual_fixes_can_be_marked_done(env: Env) -> None:
    view = requested(env, RESTART)
    text = press(env, view, Decision.DONE, APPR)
    assert text is not None
    assert "only manual fixes can be marked done" in text
    assert env.stored(view.approval_id).state is State.REQUESTED
    assert env.worker.jobs == []


# ---------------------------------------------------------------- compare-and-set losses


@pytest.mark.parametrize(
    ("second", "second_user"),
    [(Decision.DENY, APPR), (Decision.APPROVE, APPR), (Decision.DENY, OPER)],
)
def test_a_second_decision_after_approval_changes_nothing(
    env: Env, second: Decision, second_user: str
) -> None:
    view = requested(env, user=OPER)
    assert press(env, view, Decision.APPROVE, APPR2) is None
    decided = env.stored(view.approval_id)
    calls = env.chat.of(ok=None)
    audit = env.audit()
    env.clock.advance(timedelta(seconds=3))
    text = press(env, view, second, second_user)
    assert text == "this fix request is already approved by <@U0APPR2>; nothing was done"
    assert env.stored(view.approval_id) == decided
    assert env.chat.of(ok=None) == calls
    assert env.audit() == audit
    assert len(env.worker.jobs) == 1


@pytest.mark.parametrize("second", [Decision.APPROVE, Decision.DENY])
def test_a_decision_after_a_deny_changes_nothing(env: Env, second: Decision) -> None:
    view = requested(env, user=OPER)
    assert press(env, view, Decision.DENY, APPR) is None
    decided = env.stored(view.approval_id)
    calls = len(env.chat.of(ok=None))
    text = press(env, view, second, APPR2)
    assert text == "this fix request is already denied by <@U0APPR>; nothing was done"
    assert env.stored(view.approval_id) == decided
    assert len(env.chat.of(ok=None)) == calls
    assert env.worker.jobs == []
    assert AuditAction.FIX_APPROVED not in env.actions()


def test_mark_done_twice_rechecks_once(env: Env) -> None:
    view = requested(env, SHAREPOINT, host="wsus01")
    assert press(env, view, Decision.DONE, OPER) is None
    text = press(env, view, Decision.DONE, OPER2)
    assert text == "this fix request is already succeeded by <@U0OPER>; nothing was done"
    assert len(env.worker.jobs) == 1
    assert env.actions().count(AuditAction.FIX_MARKED_DONE) == 1


def test_concurrent_approvals_approve_once(env: Env) -> None:
    view = requested(env, user=OPER)
    users = [APPR, APPR2] * 6
    with ThreadPoolExecutor(len(users)) as pool:
        results = list(pool.map(lambda user: press(env, view, Decision.APPROVE, user), users))
    assert results.count(None) == 1
    winner = env.stored(view.approval_id).decided_by
    losers = [text for text in results if text is not None]
    assert losers == [f"this fix request is already approved by <@{winner}>; nothing was done"] * (
        len(users) - 1
    )
    assert len(env.worker.named("execute")) == 1
    assert env.actions().count(AuditAction.FIX_APPROVED) == 1
    assert len(env.card_updates()) == 1


def test_concurrent_requests_from_one_check_result_open_one_request(env: Env) -> None:
    token = fix_button(env, RESTART)
    users = [OPER, OPER2, APPR] * 3
    with ThreadPoolExecutor(len(users)) as pool:
        results = list(pool.map(lambda user: press_request(env, token, RESTART, user=user), users))
    assert results.count(None) == 1
    assert all("already open" in text for text in results if text is not None)
    assert len(env.cards()) == 1
    assert len(env.approvals()) == 1


# ---------------------------------------------------------------- expiry


def test_expired_request_cannot_be_approved_and_loses_its_buttons(env: Env) -> None:
    view = requested(env)
    env.clock.advance(timedelta(minutes=61))
    text = press(env, view, Decision.APPROVE, APPR)
    assert text is not None
    assert "expired" in text
    assert "request the fix again" in text
    stored = env.stored(view.approval_id)
    assert stored.state is State.EXPIRED
    assert stored.finished_at == env.ctx.now()
    assert stored.decided_by is None
    [update] = env.card_updates()
    assert update.state == "expired"
    assert update.token is None
    assert update.note == "expired before anyone approved it"
    assert env.worker.jobs == []
    assert env.actions() == [
        AuditAction.FIX_REQUESTED,
        AuditAction.FIX_EXPIRED,
        AuditAction.FIX_REFUSED,
    ]
    [expired] = env.audit(AuditAction.FIX_EXPIRED)
    assert expired.user == "wsusbot"

    # the old card is still on someone's screen: still refused, the card is not redrawn
    text = press(env, view, Decision.APPROVE, APPR2)
    assert text is not None
    assert "expired" in text
    assert len(env.card_updates()) == 1
    assert env.stored(view.approval_id).state is State.EXPIRED
    text = press(env, view, Decision.DENY, APPR2)
    assert text == "this fix request is already expired; nothing was done"


def test_request_expires_at_its_expiry_time(env: Env) -> None:
    early, late = requested(env), requested(env)
    env.clock.advance(timedelta(minutes=60) - timedelta(seconds=1))
    assert press(env, early, Decision.APPROVE, APPR) is None
    env.clock.advance(timedelta(seconds=1))
    text = press(env, late, Decision.APPROVE, APPR)
    assert text is not None
    assert "expired" in text
    assert env.stored(early.approval_id).state is State.APPROVED
    assert env.stored(late.approval_id).state is State.EXPIRED


def test_expiry_minutes_come_from_the_config(make_env: MakeEnv) -> None:
    env = make_env(expiry_minutes=5)
    view = requested(env)
    assert view.expires_at == env.ctx.now() + timedelta(minutes=5)
    env.clock.advance(timedelta(minutes=5))
    assert "expired" in (press(env, view, Decision.APPROVE, APPR) or "")
