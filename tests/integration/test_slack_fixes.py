"""Issue 6 end to end: request -> approval by a second person -> one execution -> re-check,
through the local Slack and the lab hosts (fix probes counted in the lab)."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.cli import main
from bot.store.approvals import ApprovalStore, State
from bot.store.db import Database
from bot.store.models import Approval
from bot.usecases.approvals.decide import Decision, decide
from lab.estate import Estate
from lab.slack import LocalSlack
from tests.conftest import reset_postgres
from tests.integration.slack_support import (
    CHANNEL,
    SlackLab,
    TestClock,
    actions,
    blocks_text,
    buttons,
    click,
    fix_runs,
    reason_values,
    refusal_for,
    slack_lab,
    through_modal,
)

OPER, APPR, APPR2, NOBODY = "U0OPER", "U0APPR", "U0APPR2", "U0NOBODY"


def checked(lab: SlackLab, host: str) -> Any:
    lab.command(OPER, f"check {host}").wait_ack(5)
    return lab.final_message(host)


REASON = "WSUS clients in building 4 stopped reporting"


def request(lab: SlackLab, host: str, fix: str, user: str = OPER, reason: str = REASON) -> Any:
    result = checked(lab, host)
    through_modal(
        lab.slack,
        user,
        lambda: lab.slack.click_button(user, CHANNEL, result.ts, f"fix_request:{fix}"),
        "fix_request_reason",
        reason_values(reason),
    )
    return card(lab, result.ts, fix)


def deny(lab: SlackLab, user: str, message: Any, reason: str) -> Any:
    return through_modal(
        lab.slack,
        user,
        lambda: click(lab, user, message, "approval_deny"),
        "fix_deny_reason",
        reason_values(reason),
    )


def card(
    lab: SlackLab, thread_ts: str, fix: str, state: str | None = None, timeout: float = 20.0
) -> Any:
    def find() -> Any:
        for message in lab.slack.messages(CHANNEL, thread_ts=thread_ts):
            if message.text.startswith(f"fix {fix} ") and (
                state is None or message.text.endswith(f": {state}")
            ):
                return message
        return None

    return lab.slack.wait_for(find, timeout=timeout, description=f"card {fix} {state}")


def test_request_approve_run_recheck(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        requested = request(lab, "xp01", "client.restart_wuauserv")
        assert "Approve" in blocks_text(requested.blocks)
        assert lab.slack.responses() == []
        click(lab, APPR, requested, "approval_approve").wait_ack(5)
        done = card(lab, requested.thread_ts, "client.restart_wuauserv", "succeeded")
        text = blocks_text(done.blocks)
        (fields,) = [b["fields"] for b in done.blocks if b.get("block_id") == "before_after"]
        before, after = (f["text"] for f in fields)
        # readable key: value lines, the changed value in bold, no Python dict repr
        assert before == "*Before*\n`wuauserv.state`: Stopped\n`wuauserv.start_mode`: Auto"
        assert after == "*After*\n`wuauserv.state`: *Running*\n`wuauserv.start_mode`: Auto"
        assert "{" not in before + after
        assert REASON in text
        assert "client.services: pass" in text
        assert not buttons(done)
        assert fix_runs(lab, "xp01", "fix_restart_wuauserv") == 1
        # the card lost its buttons at once: the first edit (edits[1]; [0] is the card as
        # posted) already says running and has no button
        first_edit = done.edits[1]
        assert "running" in blocks_text(first_edit.blocks)
        assert not buttons(first_edit)
        assert {"fix_requested", "fix_approved", "fix_started", "fix_succeeded"} <= set(
            actions(lab)
        )
        capsys.readouterr()
        assert main(["-c", str(lab.config), "audit", "--host", "xp01", "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert {
            "time",
            "user",
            "action",
            "host",
            "check",
            "fix",
            "approval",
            "outcome",
            "before",
            "after",
        } <= set(rows[0])
        succeeded = next(r for r in rows if r["action"] == "fix_succeeded")
        assert succeeded["user"] == APPR
        assert succeeded["before"]
        assert succeeded["after"]
        assert main(["-c", str(lab.config), "audit", "--format", "csv"]) == 0
        assert capsys.readouterr().out.splitlines()[0].startswith("time,user,action,host")


def test_self_approval_non_approver_and_deny(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path, roles__operators=[OPER, APPR]) as lab:
        own = request(lab, "xp01", "client.restart_wuauserv", user=APPR)
        text = refusal_for(lab, click(lab, APPR, own, "approval_approve"))
        assert "two-person rule" in text
        text = refusal_for(lab, click(lab, NOBODY, own, "approval_approve"))
        assert "approver role" in text
        text = refusal_for(lab, click(lab, OPER, own, "approval_approve"))
        assert "approver role" in text
        deny(lab, APPR2, own, "restart it in the maintenance window instead")
        denied = card(lab, own.thread_ts, "client.restart_wuauserv", "denied")
        assert not buttons(denied)
        shown = blocks_text(denied.blocks)
        assert "restart it in the maintenance window instead" in shown
        assert REASON in shown
        assert fix_runs(lab, "xp01", "fix_restart_wuauserv") == 0
        assert actions(lab).count("fix_refused") == 3


def test_operator_role_needed_to_request(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        result = checked(lab, "xp01")
        delivery = lab.slack.click_button(
            NOBODY, CHANNEL, result.ts, "fix_request:client.restart_wuauserv"
        )
        assert "operator role" in refusal_for(lab, delivery)
        assert lab.runtime.ctx is not None
        assert not ApprovalStore(lab.runtime.ctx.services.db).in_states(State.REQUESTED)


def test_tampered_button_values_are_refused(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        requested = request(lab, "xp01", "client.restart_wuauserv")
        approve = next(b for b in buttons(requested) if b["action_id"] == "approval_approve")
        forged = [approve["value"][:-3] + "xyz", "apr_0000", "x" * 5000, ""]
        assert lab.runtime.ctx is not None
        tokens = lab.runtime.ctx.services.tokens
        for value in forged:
            delivery = click(lab, APPR, requested, "approval_approve", forged_value=value)
            assert "not valid" in refusal_for(lab, delivery)
        # a genuine token replayed from another channel is refused too
        assert tokens.get(approve["value"]) is not None
        refusal = decide(
            lab.runtime.ctx,
            user=APPR,
            channel="C0DIGEST",
            decision=Decision.APPROVE,
            token_value=approve["value"],
        )
        assert refusal is not None
        assert "not valid" in refusal
        assert fix_runs(lab, "xp01", "fix_restart_wuauserv") == 0
        assert actions(lab).count("fix_refused") == len(forged) + 1


def test_expired_requests_lose_their_buttons(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        requested = request(lab, "xp01", "client.restart_wuauserv")
        lab.clock.advance(timedelta(minutes=61))
        assert lab.runtime.schedules is not None
        lab.runtime.schedules.run_due_now()
        expired = card(lab, requested.thread_ts, "client.restart_wuauserv", "expired")
        assert not buttons(expired)
        # someone with the old message still on screen clicks Approve
        text = refusal_for(lab, click(lab, APPR, requested, "approval_approve", stale=True))
        assert "expired" in text
        assert fix_runs(lab, "xp01", "fix_restart_wuauserv") == 0
        assert "fix_expired" in actions(lab)


def test_twenty_concurrent_approvals_run_the_fix_once(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        requested = request(lab, "xp01", "client.restart_wuauserv")
        approvers = [APPR, APPR2] * 10
        # twenty people have the card open: each clicks the card as they see it, even if
        # the first approval has already redrawn it without buttons
        with ThreadPoolExecutor(20) as pool:
            deliveries = list(
                pool.map(
                    lambda user: click(lab, user, requested, "approval_approve", stale=True),
                    approvers,
                )
            )
        for delivery in deliveries:
            delivery.wait_ack(10)
        # every losing click has been decided (and told so) before anything is counted
        losers = lab.slack.wait_for(
            lambda: len(lab.slack.responses()) >= 19 or None,
            timeout=30,
            description="19 refusals",
        )
        assert losers
        refusals = lab.slack.responses()
        assert len(refusals) == 19
        assert all("already" in str(r.body.get("text")) for r in refusals)
        card(lab, requested.thread_ts, "client.restart_wuauserv", "succeeded")
        lab.drain()
        assert fix_runs(lab, "xp01", "fix_restart_wuauserv") == 1
        assert actions(lab).count("fix_approved") == 1
        assert actions(lab).count("fix_started") == 1


@pytest.mark.parametrize("crashed_in", [State.APPROVED, State.RUNNING])
def test_restart_between_approval_and_execution_interrupts(
    tmp_path: Path, crashed_in: State
) -> None:
    estate = Estate.start("wuauserv_stopped", workdir=tmp_path / "lab")
    slack = LocalSlack().start()
    clock = TestClock()
    try:
        with slack_lab(
            "wuauserv_stopped", tmp_path, estate=estate, slack=slack, clock=clock
        ) as lab:
            requested = request(lab, "xp01", "client.restart_wuauserv")
            assert lab.runtime.ctx is not None
            approval = ApprovalStore(lab.runtime.ctx.services.db).in_states(State.REQUESTED)[0]
            store_url = lab.settings.store.url
        # the bot is gone; the database says it died right after the approval, mid-way
        crashed = Database(store_url)
        with crashed.session() as session:
            session.execute(
                update(Approval)
                .where(Approval.id == approval.id)
                .values(state=crashed_in.value, decided_by=APPR2, decided_at=clock())
            )
        crashed.dispose()
        with slack_lab(
            "wuauserv_stopped", tmp_path, estate=estate, slack=slack, clock=clock
        ) as again:
            assert again.runtime.ctx is not None
            assert again.runtime.schedules is not None
            store = ApprovalStore(again.runtime.ctx.services.db)
            # SQLite is one process: the restarted bot knows nothing else can be running
            # it, and says so at start-up, without waiting for any orphan age
            assert again.runtime.ctx.services.single_process
            note = card(again, requested.thread_ts, "client.restart_wuauserv", "interrupted")
            assert not buttons(note)
            stored = store.get(approval.id)
            assert stored is not None
            assert stored.state is State.INTERRUPTED
            assert fix_runs(again, "xp01", "fix_restart_wuauserv") == 0
            assert "not re-run" in _thread_text(again, requested.thread_ts)
            assert "fix_interrupted" in actions(again)
    finally:
        slack.stop()
        estate.stop()


def test_request_fix_twice_opens_one_request(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path, roles__operators=[OPER, APPR2]) as lab:
        first = request(lab, "xp01", "client.restart_wuauserv")
        through_modal(
            lab.slack,
            APPR2,
            lambda: lab.slack.click_button(
                APPR2, CHANNEL, first.thread_ts, "fix_request:client.restart_wuauserv"
            ),
            "fix_request_reason",
            reason_values("me too"),
        )
        told = lab.slack.wait_for(
            lambda: lab.slack.ephemerals(CHANNEL, APPR2) or None, description="refusal"
        )
        assert "already open" in told[-1].text
        assert lab.runtime.ctx is not None
        assert len(ApprovalStore(lab.runtime.ctx.services.db).in_states(State.REQUESTED)) == 1


@pytest.mark.parametrize(
    ("scenario", "outcome"),
    [("detection_stalled", "recovered"), ("client_network_blocked", "not recovered")],
)
def test_reset_au_state_follow_up_after_the_clock_advances(
    tmp_path: Path, scenario: str, outcome: str
) -> None:
    with slack_lab(scenario, tmp_path) as lab:
        requested = request(lab, "xp01", "client.reset_au_state")
        click(lab, APPR, requested, "approval_approve").wait_ack(5)
        done = card(lab, requested.thread_ts, "client.reset_au_state", "succeeded")
        assert "follow-up check runs in 10 minutes" in blocks_text(done.blocks)
        assert lab.runtime.schedules is not None
        lab.runtime.schedules.run_due_now()
        assert "follow-up on" not in _thread_text(lab, requested.thread_ts)
        lab.estate.clock.advance(timedelta(minutes=11))
        lab.clock.advance(timedelta(minutes=11))
        lab.runtime.schedules.run_due_now()
        lab.slack.wait_for(
            lambda: "follow-up on xp01" in _thread_text(lab, requested.thread_ts) or None,
            timeout=20,
            description="follow-up posted",
        )
        assert f"follow-up on xp01: {outcome}" in _thread_text(lab, requested.thread_ts)
        assert "followup" in actions(lab)


def _thread_text(lab: SlackLab, thread_ts: str) -> str:
    return " ".join(
        m.text + blocks_text(m.blocks) for m in lab.slack.messages(CHANNEL, thread_ts=thread_ts)
    )


def test_manual_fix_shows_runbook_and_mark_done_rechecks(tmp_path: Path) -> None:
    with slack_lab("sharepoint_blocks_selfupdate", tmp_path) as lab:
        requested = request(lab, "wsus01", "server.sharepoint_exclude_paths")
        text = blocks_text(requested.blocks)
        assert "Runbook" in text
        assert "Approve" not in text
        click(lab, OPER, requested, "approval_done").wait_ack(5)
        lab.slack.wait_for(
            lambda: "re-check after the runbook" in _thread_text(lab, requested.thread_ts) or None,
            timeout=20,
            description="re-check",
        )
        assert "re-check after the runbook: still failing" in _thread_text(lab, requested.thread_ts)


@pytest.mark.skipif(
    not os.environ.get("WSUSBOT_TEST_POSTGRES_URL"), reason="needs WSUSBOT_TEST_POSTGRES_URL"
)
def test_two_bot_instances_on_one_postgres_run_the_fix_once(tmp_path: Path) -> None:
    url = os.environ["WSUSBOT_TEST_POSTGRES_URL"]
    reset_postgres(url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        slack_lab("wuauserv_stopped", tmp_path / "a", database_url=url) as first,
        slack_lab(
            "wuauserv_stopped",
            tmp_path / "b",
            mode="http",
            database_url=url,
            estate=first.estate,
            slack=first.slack,
        ) as second,
    ):
        requested = request(first, "xp01", "client.restart_wuauserv")
        modes = ["socket", "http"] * 10
        users = [APPR, APPR2] * 10
        with ThreadPoolExecutor(20) as pool:
            deliveries = list(
                pool.map(
                    lambda pair: first.slack.click_button(
                        pair[0], CHANNEL, requested.ts, "approval_approve", mode=pair[1]
                    ),
                    zip(users, modes, strict=True),
                )
            )
        for delivery in deliveries:
            delivery.wait_ack(10)
        card(first, requested.thread_ts, "client.restart_wuauserv", "succeeded")
        first.drain()
        second.drain()
        assert fix_runs(first, "xp01", "fix_restart_wuauserv") == 1


def test_a_fix_that_fails_on_the_host_is_failed_and_not_retried(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        lab.estate.host("xp01").faults.fail_fixes = {"fix_restart_wuauserv"}
        requested = request(lab, "xp01", "client.restart_wuauserv")
        commands_before = lab.estate.wsman("xp01").stats().commands_run
        click(lab, APPR, requested, "approval_approve").wait_ack(5)
        failed = card(lab, requested.thread_ts, "client.restart_wuauserv", "failed")
        text = blocks_text(failed.blocks)
        assert "Access is denied" in text
        assert "nothing is retried" in text
        assert not buttons(failed)
        lab.drain()
        # exactly the one fix command: no retry, no re-check claiming success
        assert lab.estate.wsman("xp01").stats().commands_run == commands_before + 1
        assert "fix_failed" in actions(lab)
        assert "fix_succeeded" not in actions(lab)


def test_an_unreachable_host_at_approval_time_fails_with_the_reason(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        requested = request(lab, "xp01", "client.restart_wuauserv")
        lab.estate.set_faults("xp01", refuse=True)
        click(lab, APPR, requested, "approval_approve").wait_ack(5)
        failed = card(lab, requested.thread_ts, "client.restart_wuauserv", "failed")
        assert "unreachable" in blocks_text(failed.blocks)
        assert fix_runs(lab, "xp01", "fix_restart_wuauserv") == 0
        assert lab.runtime.ctx is not None
        stored = ApprovalStore(lab.runtime.ctx.services.db).in_states(State.FAILED)
        assert len(stored) == 1
        assert stored[0].error is not None


def test_a_fix_whose_answer_is_lost_is_unknown_and_rechecked(tmp_path: Path) -> None:
    """The fix ran on the host, then its output was cut short: the card must not say
    failed (the host changed); it says the outcome is unknown and what the re-check shows."""
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        lab.estate.host("xp01").faults.truncate_fixes = {"fix_restart_wuauserv"}
        requested = request(lab, "xp01", "client.restart_wuauserv")
        commands_before = lab.estate.wsman("xp01").stats().commands_run
        click(lab, APPR, requested, "approval_approve").wait_ack(5)
        unknown = card(lab, requested.thread_ts, "client.restart_wuauserv", "outcome_unknown")
        text = blocks_text(unknown.blocks)
        assert "may or may not have run" in text
        assert "the verifying checks now pass" in text
        assert "client.services: pass" in text
        assert not buttons(unknown)
        lab.drain()
        # the fix once, then one re-check; never a retry of the fix
        assert fix_runs(lab, "xp01", "fix_restart_wuauserv") == 1
        assert lab.estate.wsman("xp01").stats().commands_run == commands_before + 2
        assert "fix_outcome_unknown" in actions(lab)
        assert "fix_failed" not in actions(lab)
