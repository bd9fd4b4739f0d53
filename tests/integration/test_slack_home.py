"""Issue 13 (Slack): the App Home (open requests with Approve/Deny for approvers, failing
hosts with a Check button, the "Check a host" modal) and the message shortcut "Check this
host", through the real Bolt app and the local Slack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.store.audit import AuditLog
from bot.usecases.approvals.decide import Decision, decide
from bot.usecases.home import check_prompt, home_scope
from bot.views import Refusal
from lab.slack.deliveries import Mode
from tests.integration.slack_support import (
    CHANNEL,
    SlackLab,
    blocks_text,
    buttons,
    check_values,
    modal_ids,
    new_modal,
    reason_values,
    slack_lab,
    through_modal,
)

OPER, APPR, APPR2, NOBODY = "U0OPER", "U0APPR", "U0APPR2", "U0NOBODY"
FIX = "client.restart_wuauserv"


def checked(lab: SlackLab, host: str, user: str = OPER) -> Any:
    lab.command(user, f"check {host}").wait_ack(5)
    return lab.final_message(host)


def requested(lab: SlackLab, host: str = "xp01", reason: str = "xp01 stopped updating") -> Any:
    result = checked(lab, host)
    through_modal(
        lab.slack,
        OPER,
        lambda: lab.slack.click_button(OPER, CHANNEL, result.ts, f"fix_request:{FIX}"),
        "fix_request_reason",
        reason_values(reason),
    )
    return lab.slack.wait_for(
        lambda: next(
            (
                m
                for m in lab.slack.messages(CHANNEL, thread_ts=result.ts)
                if m.text.startswith(f"fix {FIX} ")
            ),
            None,
        ),
        timeout=20,
        description="approval card",
    )


def home(lab: SlackLab, user: str, since: int = 0, mode: Mode = "socket") -> dict[str, Any]:
    """The user's Home once it has been published more than ``since`` times."""
    lab.slack.open_home(user, mode=mode).wait_ack(5)
    return home_after(lab, user, since)


def publishes(lab: SlackLab, user: str) -> int:
    return len([c for c in lab.slack.calls("views.publish") if c.params.get("user_id") == user])


def home_after(lab: SlackLab, user: str, since: int) -> dict[str, Any]:
    lab.slack.wait_for(
        lambda: publishes(lab, user) > since or None, timeout=10, description="home published"
    )
    view = lab.slack.home_view(user)
    assert view is not None
    return view


def home_id(lab: SlackLab, user: str) -> str:
    return next(v.id for v in lab.slack.views(user) if v.kind == "home")


def view_buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for block in view["blocks"]:
        if block.get("type") == "actions":
            found.extend(block["elements"])
        if isinstance(block.get("accessory"), dict):
            found.append(block["accessory"])
    return found


def audit(lab: SlackLab) -> list[Any]:
    assert lab.runtime.ctx is not None
    return AuditLog(lab.runtime.ctx.services.db).query()


def test_approver_decides_from_the_home_and_others_see_no_buttons(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        card = requested(lab)
        view = home(lab, APPR)
        text = blocks_text(view["blocks"])
        assert "Fix requests waiting for a decision (1)" in text
        assert "xp01 stopped updating" in text
        assert {"approval_approve", "approval_deny"} <= {b["action_id"] for b in view_buttons(view)}
        # an operator (not an approver) sees the Home but no decision buttons
        oper_view = home(lab, OPER)
        assert "Fix requests waiting" not in blocks_text(oper_view["blocks"])
        assert not {"approval_approve", "approval_deny"} & {
            b["action_id"] for b in view_buttons(oper_view)
        }
        # Approve on the Home runs the fix once; the card in the channel says so
        before = publishes(lab, APPR)
        lab.slack.click_view_button(APPR, home_id(lab, APPR), "approval_approve").wait_ack(5)
        lab.slack.wait_for(
            lambda: lab.slack.message(CHANNEL, card.ts).text.endswith("succeeded") or None,
            timeout=30,
            description="fix succeeded",
        )
        assert lab.estate.host("xp01").probe_counts().get("fix_restart_wuauserv") == 1
        redrawn = home_after(lab, APPR, before)
        assert "Fix requests waiting" not in blocks_text(redrawn["blocks"])
        assert [r.user for r in audit(lab) if r.action == "fix_approved"] == [APPR]


def test_deny_from_the_home_asks_why_and_keeps_the_reason(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        card = requested(lab)
        home(lab, APPR)
        # too short a reason: the modal stays open and says why; nothing is denied
        before = modal_ids(lab.slack, APPR)
        lab.slack.click_view_button(APPR, home_id(lab, APPR), "approval_deny").wait_ack(5)
        modal = new_modal(lab.slack, APPR, "fix_deny_reason", before)
        lab.slack.submit_view(APPR, modal.id, reason_values("no")).wait_ack(5)
        (still_open,) = [v for v in lab.slack.views(APPR) if v.id == modal.id]
        assert not still_open.closed
        assert "reason" in still_open.errors[-1]
        assert lab.slack.message(CHANNEL, card.ts).text.endswith(": requested")
        lab.slack.submit_view(APPR, modal.id, reason_values("change freeze until Monday"))
        lab.slack.wait_for(
            lambda: lab.slack.message(CHANNEL, card.ts).text.endswith(": denied") or None,
            timeout=10,
            description="card denied",
        )
        shown = blocks_text(lab.slack.message(CHANNEL, card.ts).blocks)
        assert "change freeze until Monday" in shown
        assert "xp01 stopped updating" in shown
        assert not buttons(lab.slack.message(CHANNEL, card.ts))
        (denial,) = [r for r in audit(lab) if r.action == "fix_denied"]
        assert denial.detail == "reason: change freeze until Monday"
        (request,) = [r for r in audit(lab) if r.action == "fix_requested"]
        assert request.detail == "reason: xp01 stopped updating"
        assert lab.estate.host("xp01").probe_counts().get("fix_restart_wuauserv", 0) == 0


def test_a_home_token_works_only_on_its_own_home(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        requested(lab)
        view = home(lab, APPR)
        token = next(b["value"] for b in view_buttons(view) if b["action_id"] == "approval_approve")
        assert lab.runtime.ctx is not None
        refusal = decide(
            lab.runtime.ctx,
            user=APPR2,
            channel=home_scope(APPR2),
            decision=Decision.APPROVE,
            token_value=token,
        )
        assert refusal is not None
        assert "not valid" in refusal
        # and an approver's role is checked again when the button is pressed: a user who
        # holds the approver's own Home token (same scope) and no role is still refused
        refusal = decide(
            lab.runtime.ctx,
            user=NOBODY,
            channel=home_scope(APPR),
            decision=Decision.APPROVE,
            token_value=token,
        )
        assert refusal is not None
        assert "approver role" in refusal
        assert lab.estate.host("xp01").probe_counts().get("fix_restart_wuauserv", 0) == 0


def test_failing_host_check_button_opens_the_modal_and_runs_the_check(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        checked(lab, "xp01")
        view = home(lab, OPER)
        assert "Failing hosts (1)" in blocks_text(view["blocks"])
        (check,) = [b for b in view_buttons(view) if b["action_id"] == "home_check"]
        assert check["value"] == "xp01"
        before = modal_ids(lab.slack, OPER)
        lab.slack.click_view_button(OPER, home_id(lab, OPER), "home_check").wait_ack(5)
        modal = new_modal(lab.slack, OPER, "check_host", before)
        blocks = modal.view["blocks"]
        assert blocks[0]["element"]["initial_value"] == "xp01"
        assert blocks[1]["element"]["initial_conversation"] == CHANNEL
        count = len(lab.slack.messages(CHANNEL))
        lab.slack.submit_view(OPER, modal.id, check_values("xp01", CHANNEL)).wait_ack(5)
        lab.slack.wait_for(
            lambda: len(lab.slack.messages(CHANNEL)) > count or None, description="check posted"
        )
        newest = lab.slack.messages(CHANNEL)[-1]
        lab.slack.wait_for(
            lambda: "checking" not in lab.slack.message(CHANNEL, newest.ts).text or None,
            timeout=30,
            description="verdict",
        )
        assert lab.slack.message(CHANNEL, newest.ts).text.startswith("xp01: FAIL")


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_check_a_host_modal_refuses_bad_input_in_the_modal(tmp_path: Path, mode: str) -> None:
    with slack_lab("healthy", tmp_path, mode=mode) as lab:
        home(lab, OPER, mode=mode)
        before = modal_ids(lab.slack, OPER)
        lab.slack.click_view_button(OPER, home_id(lab, OPER), "home_check_host", mode=mode)
        modal = new_modal(lab.slack, OPER, "check_host", before)
        count = len(lab.slack.messages(CHANNEL))
        ack = lab.slack.submit_view(
            OPER, modal.id, check_values("nosuchhost", CHANNEL), mode=mode
        ).wait_ack(5)
        if mode == "socket":
            assert ack.payload is not None
            assert ack.payload["response_action"] == "errors"
        errors = lab.slack.wait_for(
            lambda: next(v for v in lab.slack.views(OPER) if v.id == modal.id).errors or None
        )
        assert "not in the inventory" in errors[-1]["host"]
        # a channel the bot is not enabled in is refused in the modal too
        lab.slack.submit_view(OPER, modal.id, check_values("wsus01", "C0OTHER"), mode=mode)
        errors = lab.slack.wait_for(
            lambda: (
                e
                if len(e := next(v for v in lab.slack.views(OPER) if v.id == modal.id).errors) > 1
                else None
            )
        )
        assert "not enabled in this channel" in errors[-1]["channel"]
        assert len(lab.slack.messages(CHANNEL)) == count


def test_check_a_host_needs_the_viewer_role(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path, roles__viewers=["U0VIEWER"]) as lab:
        home(lab, "U0VIEWER")
        # U0NOBODY's Home says it lacks the role and has no button; the use case behind
        # the button refuses too (a forged click opens no modal)
        view = home(lab, NOBODY)
        assert "viewer role" in blocks_text(view["blocks"])
        assert not view_buttons(view)
        assert lab.runtime.ctx is not None
        assert isinstance(check_prompt(lab.runtime.ctx, NOBODY), Refusal)


def test_message_shortcut_checks_the_host_a_message_names(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        said = lab.slack.post_as_user(
            "U0VIEWER", CHANNEL, "is *XP01* still not updating? see <https://wiki/x|the wiki>"
        )
        lab.slack.message_shortcut(OPER, CHANNEL, said.ts, "check_this_host").wait_ack(5)

        def verdict() -> Any:
            replies = lab.slack.messages(CHANNEL, thread_ts=said.ts)
            return next(
                (m for m in replies if m.text.startswith("xp01: ") and "checking" not in m.text),
                None,
            )

        result = lab.slack.wait_for(verdict, timeout=30, description="verdict in the thread")
        assert result.text.startswith("xp01: FAIL")
        assert result.thread_ts == said.ts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the printer on floor 3 is jammed again", "names no host of the inventory"),
        ("xp01 and wsus01 both look odd", "names 2 hosts (xp01, wsus01)"),
    ],
)
def test_message_shortcut_explains_none_or_several(
    tmp_path: Path, text: str, expected: str
) -> None:
    with slack_lab("healthy", tmp_path, mode="http") as lab:
        said = lab.slack.post_as_user("U0VIEWER", CHANNEL, text)
        count = len(lab.slack.messages(CHANNEL, include_replies=True))
        delivery = lab.slack.message_shortcut(
            OPER, CHANNEL, said.ts, "check_this_host", mode="http"
        )
        assert delivery.wait_ack(5).http_status == 200
        posts = lab.slack.wait_for(
            lambda: lab.slack.responses(delivery.id) or None, description="ephemeral"
        )
        assert expected in str(posts[-1].body["text"])
        assert posts[-1].response_type == "ephemeral"
        lab.drain()
        assert len(lab.slack.messages(CHANNEL, include_replies=True)) == count
        refused = [r for r in audit(lab) if r.action == "check_refused"]
        assert refused[-1].user == OPER


def test_message_shortcut_rechecks_roles(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path, roles__viewers=["U0VIEWER"]) as lab:
        said = lab.slack.post_as_user("U0VIEWER", CHANNEL, "xp01?")
        delivery = lab.slack.message_shortcut(NOBODY, CHANNEL, said.ts, "check_this_host")
        delivery.wait_ack(5)
        posts = lab.slack.wait_for(lambda: lab.slack.responses(delivery.id) or None)
        assert "viewer role" in str(posts[-1].body["text"])
