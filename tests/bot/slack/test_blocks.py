"""Block Kit builders (bot/slack/blocks) and the view models they render (bot/views).

Pure functions: every test builds a view model, renders it and looks at the exact
``to_dict()`` / ``as_kwargs()`` output. Digest blocks are covered in test_digest_blocks.py.
Slack's limits: https://api.slack.com/reference/block-kit/blocks"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from bot.digest.causes import Cause, Digest, Sighting
from bot.digest.trend import compare
from bot.slack import ids
from bot.slack.blocks import audit_line, render
from bot.slack.blocks.approval import VALUES_SHOWN, approval_card
from bot.slack.blocks.batch import batch_card
from bot.slack.blocks.common import (
    Message,
    clip,
    escape,
    mention,
    notice,
    refusal,
    section,
)
from bot.slack.blocks.home import NO_ROLE_TEXT, home_view, home_view_blocks
from bot.slack.blocks.report import (
    EVIDENCE_LINE_LIMIT,
    catalogue_message,
    checking,
    finding_text,
    help_message,
    history_message,
    report_details,
    report_message,
    source_line,
)
from bot.store.runs import RunSummary
from bot.views import (
    ApprovalView,
    AuditLine,
    BatchView,
    ChatMessage,
    Checking,
    DigestView,
    FixButton,
    HealthyDigestView,
    HistoryRow,
    HistoryView,
    HomeView,
    Notice,
    Refusal,
    ReportDetails,
    ReportView,
    TopHost,
    history_row,
    history_rows,
)
from checks.fixes import FIXES, FixMeta, Risk, get_fix
from checks.model import Check, CheckMeta, Finding, Severity, Status
from checks.report import Report
from checks.seed import ARTICLE_ID, ARTICLE_URL, SECTIONS

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
#: everything Slack would turn into a ping or a link, plus a bare ampersand
HOSTILE = "<!channel> <@U123> <http://evil|x> & co"
HOSTILE_ESCAPED = "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil|x&gt; &amp; co"
CLI_USER = "cli:<!channel>"
RAW_TOKENS = ("<!channel>", "<@U123>", "<http://evil|x>")
#: the only links the builders make themselves: the seed article, one per section
SOURCE_LINK = re.compile("<" + re.escape(ARTICLE_URL) + r"\|§(?:10|[1-9])>")
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")

LOW = get_fix("client.reset_au_state")
MEDIUM = get_fix("client.set_wsus_policy")
MANUAL = get_fix("server.sharepoint_exclude_paths")
HIGH = replace(MEDIUM, risk=Risk.HIGH)


# --- helpers ---------------------------------------------------------------------------


def finding(
    check: str,
    status: Status = Status.FAIL,
    summary: str = "summary",
    evidence: tuple[str, ...] = (),
    next_step: str | None = None,
    fix: str | None = None,
) -> Finding:
    return Finding(check, status, summary, evidence, next_step, fix)


def report(
    *findings: Finding,
    host: str = "pc1",
    unreachable_reason: str | None = None,
    seeds: dict[str, tuple[str, ...]] | None = None,
) -> Report:
    return Report(
        host=host,
        role="client",
        findings=findings,
        started_at=NOW,
        finished_at=NOW,
        unreachable_reason=unreachable_reason,
        seeds=seeds or {},
    )


def approval(fix: FixMeta = LOW, **changes: Any) -> ApprovalView:
    base = ApprovalView(
        approval_id="a1",
        host="pc1",
        fix=fix,
        state="requested",
        requested_by="U123",
        expires_at=NOW,
        token="tok",
    )
    return replace(base, **changes)


def row(host: str, verdict: Status = Status.FAIL, failing: str = "", run_id: int = 1) -> HistoryRow:
    return HistoryRow(host, run_id, NOW, verdict, failing, "U123")


def payload(message: Message) -> dict[str, Any]:
    """as_kwargs() through JSON, as Slack receives it."""
    sent: dict[str, Any] = json.loads(json.dumps(message.as_kwargs()))
    return sent


def mrkdwn_texts(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from mrkdwn_texts(value)


def without_plain_text(node: object) -> object:
    """plain_text objects are shown literally by Slack (no mentions, no links)."""
    if isinstance(node, dict):
        if node.get("type") == "plain_text":
            return None
        return {key: without_plain_text(value) for key, value in node.items()}
    if isinstance(node, list):
        return [without_plain_text(value) for value in node]
    return node


def assert_inert(text: str) -> None:
    """Nothing Slack would parse as a mention or link, except the seed source links."""
    rest = SOURCE_LINK.sub("", text)
    assert "<" not in rest, text
    assert ">" not in rest, text
    assert not BARE_AMPERSAND.search(rest), text


def assert_blocks_inert(blocks: list[dict[str, Any]]) -> None:
    dumped = json.dumps(without_plain_text(blocks))
    for token in RAW_TOKENS:
        assert token not in dumped
    for text in mrkdwn_texts(blocks):
        assert_inert(text)


def assert_within_limits(blocks: list[dict[str, Any]], max_blocks: int = 50) -> None:
    assert len(blocks) <= max_blocks
    for block in blocks:
        kind = block["type"]
        if kind == "section":
            # a section has text, fields (at most 10, 2,000 characters each), or both
            assert "text" in block or "fields" in block
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            for item in block.get("fields", []):
                assert len(item["text"]) <= 2000
        elif kind == "header":
            assert len(block["text"]["text"]) <= 150
        elif kind == "context":
            assert len(block["elements"]) <= 10
            for element in block["elements"]:
                assert len(element["text"]) <= 3000
        elif kind == "actions":
            assert len(block["elements"]) <= 25
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= 75
                assert len(button["action_id"]) <= 255
                assert len(button.get("value", "")) <= 2000
                if "confirm" in button:
                    assert len(button["confirm"]["title"]["text"]) <= 100
                    assert len(button["confirm"]["text"]["text"]) <= 300


def assert_message_within_limits(message: Message) -> None:
    # the builder itself must stay under 50: as_kwargs() would silently cut the buttons
    assert len(message.blocks) <= 50
    for block in message.blocks:
        block.validate_json()
    sent = payload(message)
    assert len(sent["text"]) <= 3000
    assert_within_limits(sent["blocks"])


def section_texts(message: Message) -> list[str]:
    return [
        b["text"]["text"]
        for b in payload(message)["blocks"]
        if b["type"] == "section" and "text" in b
    ]


def actions(message: Message) -> list[dict[str, Any]]:
    return [b for b in payload(message)["blocks"] if b["type"] == "actions"]


# --- common ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "shown"),
    [
        ("U0ABC", "<@U0ABC>"),
        ("W0ABC", "<@W0ABC>"),
        ("cli:alice", "cli:alice"),
        ("wsusbot", "wsusbot"),
        ("U<!x>", "U&lt;!x&gt;"),
        (CLI_USER, "cli:&lt;!channel&gt;"),
        ("U12 3", "U12 3"),
    ],
)
def test_mention(user: str, shown: str) -> None:
    assert mention(user) == shown


def test_escape_and_clip() -> None:
    assert escape(HOSTILE) == HOSTILE_ESCAPED
    # & first, so an already escaped entity stays visible as written
    assert escape("&lt;") == "&amp;lt;"
    assert clip("abc", 3) == "abc"
    assert clip("abcd", 3) == "ab…"
    assert len(clip("x" * 5000, 3000)) == 3000


def test_message_kwargs_cut_to_slack_limits() -> None:
    message = Message(text="t" * 5000, blocks=[section("a")] * 60)
    sent = message.as_kwargs()
    assert len(sent["blocks"]) == 50
    assert len(sent["text"]) == 3000
    assert sent["text"].endswith("…")
    assert sent["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": "a"}}


def test_section_text_is_clipped() -> None:
    assert len(section("x" * 10_000).to_dict()["text"]["text"]) == 3000


def test_notice_and_refusal_escape_their_text() -> None:
    assert notice(HOSTILE).as_kwargs()["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": HOSTILE_ESCAPED}}
    ]
    assert refusal(HOSTILE).as_kwargs()["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":no_entry: {HOSTILE_ESCAPED}"}}
    ]


# --- checking and the report message ---------------------------------------------------


def test_checking_placeholder() -> None:
    assert checking(Checking("pc1", "cli:alice")).as_kwargs() == {
        "text": "checking pc1…",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": ":hourglass_flowing_sand: checking *pc1*…"},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "asked by cli:alice"}]},
        ],
    }


def test_report_message_exact() -> None:
    result = report(
        finding("client.au_state", Status.FAIL, "AUState is 5", ("AUState=5",), "Reset it"),
        finding("client.services", Status.PASS, "ok"),
        seeds={"client.au_state": ("§9",)},
    )
    view = ReportView(result, "U123", (FixButton(LOW, "tok1"),), run_id=7)
    assert report_message(view).as_kwargs() == {
        "text": "pc1: FAIL (1 fail · 1 pass)",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": ":x: pc1: FAIL", "emoji": True},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "*client* · 1 fail · 1 pass · asked by <@U123> · run 7",
                    }
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":x: *client.au_state* — AUState is 5\n"
                    "• AUState=5\n"
                    "_Next:_ Reset it\n"
                    "_Source (Automatic Updates must be updated, Cc708554):_ "
                    f"<{ARTICLE_URL}|§9> {SECTIONS['§9']}",
                },
            },
            {
                "type": "actions",
                "block_id": ids.FIXES_BLOCK,
                "elements": [
                    {
                        "type": "button",
                        "text": {
                            "type": "plain_text",
                            "text": "Request fix: Reset Automatic Updates detection state",
                        },
                        "action_id": "fix_request:client.reset_au_state",
                        "value": "tok1",
                    }
                ],
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": "Details of every check are in the thread."}
                ],
            },
        ],
    }


def test_report_without_run_id_or_role() -> None:
    result = replace(report(finding("c.a", Status.WARN)), role=None)
    context_text = payload(report_message(ReportView(result, "cli:alice")))["blocks"][1]
    assert context_text == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "*role unknown* · 1 warn · asked by cli:alice"}],
    }


def test_problems_sorted_fails_then_warns_then_unknowns() -> None:
    result = report(
        finding("a.unknown1", Status.UNKNOWN),
        finding("b.warn", Status.WARN),
        finding("c.pass", Status.PASS),
        finding("d.fail", Status.FAIL),
        finding("e.unknown2", Status.UNKNOWN),
        finding("f.fail2", Status.FAIL),
        finding("g.skip", Status.SKIP),
    )
    texts = section_texts(report_message(ReportView(result, "U1")))
    checks = [re.search(r"\*([a-z0-9_.]+)\*", t).group(1) for t in texts]  # type: ignore[union-attr]
    assert checks == ["d.fail", "f.fail2", "b.warn", "a.unknown1", "e.unknown2"]
    assert texts[0].startswith(":x: *d.fail*")
    assert texts[2].startswith(":warning: *b.warn*")
    assert texts[3].startswith(":grey_question: *a.unknown1*")


def test_unknowns_are_the_ones_pushed_to_the_thread() -> None:
    findings = [finding(f"u.{i:02d}", Status.UNKNOWN) for i in range(5)]
    findings += [finding(f"f.{i:02d}", Status.FAIL) for i in range(45)]
    message = report_message(ReportView(report(*findings), "U1"))
    texts = section_texts(message)
    assert len(texts) == 45
    assert all(t.startswith(":x: ") for t in texts)
    assert payload(message)["blocks"][-2] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "… and 5 more findings in the thread"}],
    }


def test_clean_report_says_every_check_passed() -> None:
    result = report(finding("c.a", Status.PASS), finding("c.b", Status.SKIP))
    message = report_message(ReportView(result, "U1"))
    assert message.text == "pc1: PASS (1 pass · 1 skip)"
    assert section_texts(message) == ["Every check passed. :tada:"]
    assert actions(message) == []


def test_report_with_no_findings() -> None:
    message = report_message(ReportView(report(), "U1"))
    assert message.text == "pc1: UNKNOWN (no checks ran)"
    assert section_texts(message) == ["Every check passed. :tada:"]


def test_unreachable_report_shows_reason_and_next_step() -> None:
    result = report(
        finding(
            "client.reachable",
            Status.UNKNOWN,
            "host could not be read",
            ("WinRM: connection refused", "second line"),
            "Check that WinRM listens on 5985",
        ),
        finding("client.au_state", Status.UNKNOWN, "not read"),
        unreachable_reason="winrm_refused",
    )
    message = report_message(ReportView(result, "U1"))
    assert section_texts(message) == [
        ":electric_plug: *host could not be read (winrm_refused)*\n"
        "WinRM: connection refused\n"
        "_Next:_ Check that WinRM listens on 5985"
    ]
    assert actions(message) == []
    assert "Every check passed" not in json.dumps(payload(message))
    assert message.text == "pc1: UNKNOWN (2 unknown)"


def test_unreachable_report_without_findings() -> None:
    message = report_message(ReportView(report(unreachable_reason="dns"), "U1"))
    assert section_texts(message) == ["host could not be read (dns)"]


def test_fix_buttons_carry_their_fix_id() -> None:
    result = report(finding("c.a"))
    buttons = tuple(FixButton(fix, f"token-{n}") for n, fix in enumerate(FIXES))
    blocks = actions(report_message(ReportView(result, "U1", buttons)))
    assert len(blocks) == 1
    assert blocks[0]["block_id"] == ids.FIXES_BLOCK
    elements = blocks[0]["elements"]
    assert len(elements) == len(FIXES)
    for n, (element, fix) in enumerate(zip(elements, FIXES, strict=True)):
        assert element["action_id"] == ids.fix_request_action(fix.id)
        assert ids.FIX_REQUEST_PATTERN.match(element["action_id"])
        assert ids.fix_of_action(element["action_id"]) == fix.id
        assert element["value"] == f"token-{n}"
        assert element["text"] == {"type": "plain_text", "text": f"Request fix: {fix.title}"}


def test_fix_button_text_and_count_are_capped() -> None:
    long_fix = replace(LOW, title="t" * 200)
    buttons = tuple(FixButton(long_fix, f"tok{n}") for n in range(40))
    message = report_message(ReportView(report(finding("c.a")), "U1", buttons))
    (block,) = actions(message)
    assert len(block["elements"]) == 25
    assert [e["value"] for e in block["elements"]] == [f"tok{n}" for n in range(25)]
    text = block["elements"][0]["text"]["text"]
    assert len(text) == 75
    assert text.startswith("Request fix: ttt")
    assert text.endswith("…")
    assert_message_within_limits(message)


def test_huge_report_fits_one_message() -> None:
    evidence = ("e" * 5000,) * 50
    findings = [
        finding(f"c.check{i:03d}", Status.FAIL, "s" * 5000, evidence, "n" * 5000, LOW.id)
        for i in range(200)
    ]
    seeds: dict[str, tuple[str, ...]] = {f.check: ("§4", "§7") for f in findings}
    result = report(*findings, host="h" * 300, seeds=seeds)
    buttons = tuple(FixButton(fix, "v" * 2000) for fix in FIXES * 4)
    message = report_message(ReportView(result, "U" + "A" * 40, buttons, run_id=1))
    assert_message_within_limits(message)
    assert len(message.blocks) == 50
    blocks = payload(message)["blocks"]
    assert blocks[0]["type"] == "header"
    assert len(blocks[0]["text"]["text"]) == 150
    assert len(section_texts(message)) == 45
    assert blocks[-3] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "… and 155 more findings in the thread"}],
    }
    assert blocks[-2]["type"] == "actions"
    assert len(blocks[-2]["elements"]) == 25
    assert blocks[-1]["elements"][0]["text"] == "Details of every check are in the thread."


# --- findings and the seed source line -------------------------------------------------


def test_finding_evidence_is_capped_per_line_and_counted() -> None:
    evidence = tuple(f"line{i} " + "x" * 1000 for i in range(10))
    text = finding_text(finding("c.a", Status.WARN, "sum", evidence, "do it"), ())
    lines = text.split("\n")
    assert lines[0] == ":warning: *c.a* — sum"
    assert len(lines) == 1 + 8 + 1 + 1
    assert lines[1] == "• " + clip(evidence[0], EVIDENCE_LINE_LIMIT)
    assert all(len(line) == 2 + EVIDENCE_LINE_LIMIT for line in lines[1:9])
    assert lines[9] == "• … and 2 more"
    assert lines[10] == "_Next:_ do it"


def test_source_line_names_the_article_and_its_sections() -> None:
    assert source_line(("§4", "§99", "§10")) == (
        f"_Source (Automatic Updates must be updated, {ARTICLE_ID}):_ "
        f"<{ARTICLE_URL}|§4> {SECTIONS['§4']}; <{ARTICLE_URL}|§10> {SECTIONS['§10']}"
    )
    assert "Cc708554" in (source_line(("§1",)) or "")


def test_unknown_sections_are_dropped() -> None:
    assert source_line(("§99",)) is None
    assert source_line(()) is None
    text = finding_text(finding("c.a", next_step="n"), ("§99", "bogus"))
    assert text == ":x: *c.a* — summary\n_Next:_ n"


def test_report_read_back_from_json_renders_its_seeds() -> None:
    stored = report(
        finding("c.a", Status.FAIL, "s", ("e",), "n", LOW.id),
        seeds={"c.a": ("§99", "§7")},
    ).to_json()
    message = report_message(ReportView(Report.from_json(stored), "U1"))
    (text,) = section_texts(message)
    assert text.endswith(f"<{ARTICLE_URL}|§7> {SECTIONS['§7']}")
    assert "§99" not in text


def _link_cut_finding() -> tuple[Finding, tuple[str, ...]]:
    """A finding whose text is just over 3,000 characters, cut inside the source link."""
    seeds = ("§4",)
    probe = finding_text(finding("c.a", next_step="n", summary=""), seeds)
    pad = 2990 - probe.index("<https")
    return finding("c.a", next_step="n", summary="s" * pad), seeds


def _huge_evidence_finding() -> tuple[Finding, tuple[str, ...]]:
    return finding("c.a", evidence=("<" * 5000,) * 50, next_step="Restart wuauserv"), ("§4",)


@pytest.mark.parametrize("build", [_huge_evidence_finding, _link_cut_finding])
def test_long_finding_keeps_next_step_and_a_whole_source_link(build: Any) -> None:
    item, seeds = build()
    message = report_message(ReportView(report(item, seeds={item.check: seeds}), "U1"))
    (text,) = section_texts(message)
    assert len(text) <= 3000
    assert "_Next:_ " + (item.next_step or "") in text
    assert SOURCE_LINK.search(text)
    assert_inert(text)


# --- report details (thread replies) ---------------------------------------------------


def test_report_details_split_into_messages_of_50_blocks() -> None:
    statuses = [Status.PASS, Status.FAIL, Status.SKIP, Status.WARN, Status.UNKNOWN]
    evidence = ("e" * 5000,) * 50
    findings = [
        finding(f"c.check{i:03d}", statuses[i % 5], "s" * 5000, evidence, "n" * 5000)
        for i in range(200)
    ]
    messages = report_details(ReportDetails(report(*findings)))
    assert [len(m.blocks) for m in messages] == [50, 50, 50, 50]
    shown: list[str] = []
    for message in messages:
        assert_message_within_limits(message)
        assert message.text == "details for pc1"
        for text in section_texts(message):
            shown += re.findall(r"\*(c\.check\d{3})\*", text)
    assert sorted(shown) == sorted(f.check for f in findings)
    by_check = {f.check: f for f in findings}
    ranks = [by_check[c].status.rank for c in shown]
    assert ranks == sorted(ranks, reverse=True)


def test_report_details_of_51_findings_is_two_messages() -> None:
    findings = [finding(f"c.{i:02d}", Status.PASS) for i in range(51)]
    messages = render(ReportDetails(report(*findings)))
    assert [len(m.blocks) for m in messages] == [50, 1]
    assert section_texts(messages[1]) == [":white_check_mark: *c.50* — summary"]


def test_report_details_include_passes_worst_first() -> None:
    result = report(
        finding("b.pass", Status.PASS, "fine"),
        finding("a.pass", Status.PASS, "fine"),
        finding("z.fail", Status.FAIL, "broken", ("x",), "fix it"),
    )
    (message,) = report_details(ReportDetails(result))
    assert section_texts(message) == [
        ":x: *z.fail* — broken\n• x\n_Next:_ fix it",
        ":white_check_mark: *a.pass* — fine",
        ":white_check_mark: *b.pass* — fine",
    ]


def test_report_details_without_findings() -> None:
    (message,) = report_details(ReportDetails(report()))
    assert message.as_kwargs() == {
        "text": "no findings",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "no findings"}}],
    }


# --- approval card ---------------------------------------------------------------------


def test_low_risk_approval_card_exact() -> None:
    view = approval(LOW, current=("AUState=5",))
    assert approval_card(view).as_kwargs() == {
        "text": "fix client.reset_au_state on pc1: requested",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": "Fix request: Reset Automatic Updates detection state",
                    "emoji": True,
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Host:* pc1\n"
                    "*Fix:* `client.reset_au_state` — Reset Automatic Updates detection state "
                    "(risk: *low*)\n"
                    "*Requested by:* <@U123> · *expires:* 2026-11-25 08:00 UTC\n"
                    "*What will change:*\n"
                    "• ...\\WindowsUpdate\\Auto Update: AUState = 2\n"
                    "• deletes LastWaitTimeout and DetectionStartTime\n"
                    "• restarts the wuauserv service\n"
                    "*Now on the host:* AUState=5",
                },
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "approval `a1` · :hourglass: *requested*"}],
            },
            {
                "type": "actions",
                "block_id": ids.APPROVAL_BLOCK,
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "action_id": ids.APPROVAL_APPROVE,
                        "value": "tok",
                        "style": "primary",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Deny"},
                        "action_id": ids.APPROVAL_DENY,
                        "value": "tok",
                        "style": "danger",
                    },
                ],
            },
        ],
    }


def test_manual_fix_card_shows_runbook_and_mark_done() -> None:
    message = approval_card(approval(MANUAL))
    (block,) = actions(message)
    assert block["elements"] == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Mark done"},
            "action_id": ids.APPROVAL_DONE,
            "value": "tok",
            "style": "primary",
        },
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Cancel"},
            "action_id": ids.APPROVAL_DENY,
            "value": "tok",
        },
    ]
    text = section_texts(message)[0]
    assert "*Runbook (the bot does not run this fix):*" in text
    assert "*What will change:*" not in text
    for n, step in enumerate(MANUAL.runbook, 1):
        assert f"\n{n}. {escape(step)}" in text


def test_medium_risk_approve_asks_for_confirmation() -> None:
    (block,) = actions(approval_card(approval(MEDIUM)))
    approve, deny = block["elements"]
    assert approve["action_id"] == ids.APPROVAL_APPROVE
    assert approve["confirm"] == {
        "title": {"type": "plain_text", "text": "Run this fix?"},
        "text": {
            "type": "mrkdwn",
            "text": "*Point the client at its WSUS server* (medium risk) changes the host:\n"
            "• HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate: WUServer and "
            "WUStatusServer = the inventory's WSUS URL\n"
            "• ...\\WindowsUpdate\\AU: UseWUServer = 1, NoAutoUpdate removed",
        },
        "confirm": {"type": "plain_text", "text": "Approve and run"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    assert "confirm" not in deny
    assert deny["action_id"] == ids.APPROVAL_DENY


def test_high_risk_confirmation_is_styled_danger() -> None:
    (block,) = actions(approval_card(approval(HIGH)))
    confirm = block["elements"][0]["confirm"]
    assert confirm["style"] == "danger"
    assert "(high risk)" in confirm["text"]["text"]


def test_low_risk_approve_has_no_confirmation() -> None:
    (block,) = actions(approval_card(approval(LOW)))
    assert [("confirm" in e) for e in block["elements"]] == [False, False]


def test_confirm_dialog_text_is_capped() -> None:
    fix = replace(MEDIUM, title="T" * 500, changes=tuple("c" * 200 for _ in range(30)))
    message = approval_card(approval(fix))
    (block,) = actions(message)
    text = block["elements"][0]["confirm"]["text"]["text"]
    assert len(text) == 300
    assert text.endswith("…")
    assert_message_within_limits(message)


@pytest.mark.parametrize("fix", FIXES, ids=[f.id for f in FIXES])
def test_every_approval_action_id_has_a_listener_pattern(fix: FixMeta) -> None:
    (block,) = actions(approval_card(approval(fix)))
    assert block["block_id"] == ids.APPROVAL_BLOCK
    action_ids = [e["action_id"] for e in block["elements"]]
    assert all(ids.APPROVAL_PATTERN.match(a) or a == ids.APPROVAL_DENY for a in action_ids)
    expected = (
        [ids.APPROVAL_DONE, ids.APPROVAL_DENY]
        if fix.risk is Risk.MANUAL
        else [ids.APPROVAL_APPROVE, ids.APPROVAL_DENY]
    )
    assert action_ids == expected
    confirmed = "confirm" in block["elements"][0]
    assert confirmed is (fix.risk in (Risk.MEDIUM, Risk.HIGH))


@pytest.mark.parametrize("state", ["requested", "succeeded", "failed", "denied", "expired"])
def test_no_buttons_without_a_token(state: str) -> None:
    message = approval_card(approval(MEDIUM, state=state, token=None))
    assert actions(message) == []
    assert "approval_" not in json.dumps(payload(message))


def test_decided_card_shows_result() -> None:
    view = approval(
        LOW,
        state="failed",
        decided_by="U999",
        note="looks right",
        before={"AUState": 5},
        after={"AUState": 2},
        verification=("client.au_state: pass", "client.detection_stalled: fail"),
        error="boom",
        token=None,
    )
    blocks = payload(approval_card(view))["blocks"]
    assert blocks[2] == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "approval `a1` · :x: *failed* by <@U999> — looks right",
            }
        ],
    }
    assert blocks[3] == {
        "type": "section",
        "block_id": ids.BEFORE_AFTER_BLOCK,
        "fields": [
            {"type": "mrkdwn", "text": "*Before*\n`AUState`: 5"},
            {"type": "mrkdwn", "text": "*After*\n`AUState`: *2*"},
        ],
    }
    assert blocks[4] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*Re-check:* client.au_state: pass · client.detection_stalled: fail\n"
            "*Error:* boom",
        },
    }
    assert len(blocks) == 5


def before_after_fields(message: Message) -> list[str]:
    (block,) = [b for b in payload(message)["blocks"] if b.get("block_id") == "before_after"]
    return [field["text"] for field in block["fields"]]


def test_before_without_after_shows_a_dash() -> None:
    fields = before_after_fields(approval_card(approval(before={"a": 1}, after=None)))
    assert fields == ["*Before*\n`a`: 1", "*After*\n—"]


def test_before_after_are_readable_fields_not_python_dicts() -> None:
    before = {"wuauserv": {"Status": "Stopped", "StartType": "Manual"}, "Flags": [1, 2]}
    after = {"wuauserv": {"Status": "Running", "StartType": "Manual"}, "NoAutoUpdate": None}
    fields = before_after_fields(approval_card(approval(before=before, after=after)))
    assert fields == [
        "*Before*\n`wuauserv.Status`: Stopped\n`wuauserv.StartType`: Manual\n`Flags`: 1, 2",
        "*After*\n`wuauserv.Status`: *Running*\n`wuauserv.StartType`: Manual\n"
        "`NoAutoUpdate`: *(not set)*",
    ]
    assert "{" not in "".join(fields)
    assert "'" not in "".join(fields)


def test_no_result_section_while_requested() -> None:
    assert len(section_texts(approval_card(approval()))) == 1


def test_huge_approval_card_stays_within_limits() -> None:
    before = {f"k{i:03d}": "v" * 500 for i in range(100)}
    after = {f"k{i:03d}": "w" * 500 for i in range(100)}
    view = approval(
        replace(MEDIUM, changes=tuple("c" * 500 for _ in range(20))),
        host="h" * 1000,
        state="failed",
        current=tuple("now" * 100 for _ in range(50)),
        before=before,
        after=after,
        verification=tuple("v" * 300 for _ in range(50)),
        error="E" * 10_000,
        note="n" * 5000,
        decided_by="cli:" + "x" * 500,
    )
    assert_message_within_limits(approval_card(view))


def test_approval_card_with_100_keys_shows_12_a_side_and_the_error() -> None:
    before = {f"k{i:03d}": i for i in range(100)}
    after = {f"k{i:03d}": i + 1 for i in range(100)}
    message = approval_card(
        approval(state="failed", before=before, after=after, error="E" * 10_000)
    )
    assert_message_within_limits(message)
    before_field, after_field = before_after_fields(message)
    assert before_field.split("\n") == [
        "*Before*",
        *(f"`k{i:03d}`: {i}" for i in range(VALUES_SHOWN)),
        f"… and {100 - VALUES_SHOWN} more",
    ]
    assert after_field.split("\n")[1] == "`k000`: *1*"
    lines = section_texts(message)[1].split("\n")
    assert lines == ["*Error:* " + "E" * 799 + "…"]


def test_approval_error_is_clipped_before_it_is_shown() -> None:
    text = section_texts(approval_card(approval(error="E" * 10_000)))[1]
    assert text == "*Error:* " + "E" * 799 + "…"


# --- history and the Home tab ----------------------------------------------------------


def test_history_without_rows_says_none_recorded() -> None:
    assert history_message(HistoryView("pc1", ())).as_kwargs() == {
        "text": "no checks of pc1 yet",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "No checks of *pc1* recorded yet."},
            }
        ],
    }


def test_history_rows() -> None:
    rows = (
        row("pc1", Status.FAIL, "client.au_state", run_id=9),
        HistoryRow("pc1", 8, NOW, Status.PASS, "", "cli:alice"),
    )
    assert history_message(HistoryView("pc1", rows)).as_kwargs() == {
        "text": "history of pc1",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "history of pc1", "emoji": True},
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":x: 2026-11-25 08:00 UTC · run 9 · client.au_state · <@U123>\n"
                    ":white_check_mark: 2026-11-25 08:00 UTC · run 8 · all passed · cli:alice",
                },
            },
        ],
    }


def test_history_of_many_long_rows_stays_within_limits() -> None:
    rows = tuple(row("pc1", Status.FAIL, "f" * 5000, run_id=i) for i in range(500))
    assert_message_within_limits(history_message(HistoryView("h" * 500, rows)))


def test_history_row_from_a_stored_run() -> None:
    stored = report(finding("c.b", Status.WARN), finding("c.a", Status.FAIL)).to_json()
    run = RunSummary(3, "pc1", "client", "fail", NOW, NOW, "U1", None, stored)
    assert history_row(run) == HistoryRow("pc1", 3, NOW, Status.FAIL, "c.a, c.b", "U1")
    down = replace(run, verdict="unknown", unreachable_reason="winrm_refused")
    assert history_rows([run, down])[1] == HistoryRow(
        "pc1", 3, NOW, Status.UNKNOWN, "winrm_refused", "U1"
    )


def test_home_without_viewer_role_shows_only_the_refusal() -> None:
    view = HomeView(rows=(row("secret-host", Status.FAIL, "secret-check"),), allowed=False)
    assert home_view(view) == {
        "type": "home",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f":no_entry: {NO_ROLE_TEXT}"}}
        ],
    }
    assert "secret" not in json.dumps(home_view(view))


def verdict_blocks(view: HomeView) -> list[dict[str, Any]]:
    """The Home's blocks from its "latest verdicts" header on."""
    blocks = [b.to_dict() for b in home_view_blocks(view)]
    start = next(
        i
        for i, b in enumerate(blocks)
        if b["type"] == "header" and "latest verdicts" in b["text"]["text"]
    )
    return blocks[start:]


def test_home_starts_with_a_check_a_host_button() -> None:
    first = home_view_blocks(HomeView(()))[0].to_dict()
    assert first["type"] == "actions"
    assert [e["action_id"] for e in first["elements"]] == [ids.HOME_CHECK_HOST]


def test_home_without_rows() -> None:
    blocks = verdict_blocks(HomeView(()))
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "WSUS self-update: latest verdicts", "emoji": True},
    }
    assert blocks[2] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "No host has been checked yet."},
    }
    assert len(blocks) == 3


def test_home_rows_worst_first_then_by_host() -> None:
    rows = (
        row("b-pass", Status.PASS),
        row("z-fail", Status.FAIL, "c.a"),
        row("a-warn", Status.WARN, "c.w"),
        row("a-fail", Status.FAIL, "c.b"),
        row("m-unknown", Status.UNKNOWN, "dns"),
    )
    blocks = verdict_blocks(HomeView(rows))
    assert blocks[2] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": ":x: *a-fail* · 2026-11-25 08:00 UTC · c.b\n"
            ":x: *z-fail* · 2026-11-25 08:00 UTC · c.a\n"
            ":warning: *a-warn* · 2026-11-25 08:00 UTC · c.w\n"
            ":grey_question: *m-unknown* · 2026-11-25 08:00 UTC · dns\n"
            ":white_check_mark: *b-pass* · 2026-11-25 08:00 UTC",
        },
    }


def _home_hosts_accounted(failing: str) -> tuple[dict[str, Any], int, int]:
    rows = tuple(row(f"pc{i:04d}.corp.example.com", Status.FAIL, failing) for i in range(5000))
    view = home_view(HomeView(rows))
    blocks: list[dict[str, Any]] = view["blocks"]  # type: ignore[assignment]
    shown = sum(
        len(re.findall(r"\*pc\d{4}\.corp\.example\.com\*", b["text"]["text"]))
        for b in blocks
        if b["type"] == "section" and "accessory" not in b
    )
    more = re.fullmatch(r"… and (\d+) more hosts", blocks[-1]["elements"][0]["text"])
    assert more is not None
    return view, shown, int(more.group(1))


def test_home_with_5000_rows_stays_within_limits() -> None:
    view, shown, more = _home_hosts_accounted("client.au_state")
    assert view["type"] == "home"
    assert_within_limits(view["blocks"], max_blocks=100)
    assert len(view["blocks"]) == 100
    assert shown + more == 5000


def test_home_with_long_failing_lines_loses_no_host() -> None:
    failing = (
        "client.policy_wuserver, client.policy_use_wuserver, client.au_enabled, "
        "client.au_state, client.detection_stalled"
    )
    _view, shown, more = _home_hosts_accounted(failing)
    assert shown + more == 5000


def test_home_rows_are_escaped() -> None:
    blocks = verdict_blocks(HomeView((row(HOSTILE, Status.FAIL, HOSTILE),)))
    assert blocks[2]["text"]["text"] == (
        f":x: *{HOSTILE_ESCAPED}* · 2026-11-25 08:00 UTC · {HOSTILE_ESCAPED}"
    )
    assert_blocks_inert([b for b in blocks if b["type"] == "section"])


@pytest.mark.parametrize("which", ["home", "help"])
def test_builder_text_has_no_raw_angle_brackets(which: str) -> None:
    from bot.commands import USAGE

    if which == "home":
        blocks: list[dict[str, Any]] = home_view(HomeView(()))["blocks"]  # type: ignore[assignment]
    else:
        blocks = payload(help_message(USAGE))["blocks"]
    for text in mrkdwn_texts(blocks):
        assert_inert(text)


# --- catalogue --------------------------------------------------------------------------


def test_catalogue_groups_checks_by_role_and_escapes_titles() -> None:
    def meta(check_id: str, role: Any, title: str, fix: str | None = None) -> CheckMeta:
        return CheckMeta(check_id, role, title, Severity.HIGH, ("§4",), (), "r", fix)

    def evaluate(facts: Any, ctx: Any) -> Finding:
        raise AssertionError

    checks = [
        Check(meta("client.a", "client", HOSTILE, LOW.id), evaluate),
        Check(meta("server.b", "server", "B"), evaluate),
    ]
    message = catalogue_message(checks)
    assert message.text == "2 checks"
    assert section_texts(message) == [
        f"*client checks*\n`client.a` {HOSTILE_ESCAPED} (§4) → fix `{LOW.id}`",
        "*server checks*\n`server.b` B (§4)",
    ]


# --- escaping across every builder -----------------------------------------------------


def _hostile_report(**kwargs: Any) -> Report:
    return report(
        finding("client.au_state", Status.FAIL, HOSTILE, (HOSTILE,) * 3, HOSTILE, LOW.id),
        finding("client.services", Status.UNKNOWN, HOSTILE, (HOSTILE,), HOSTILE),
        finding("client.ok", Status.PASS, HOSTILE, (HOSTILE,)),
        host=HOSTILE,
        seeds={"client.au_state": ("§4", "§99"), "client.ok": ("§7",)},
        **kwargs,
    )


def _hostile_approval(fix: FixMeta) -> ApprovalView:
    return approval(
        replace(fix, title=HOSTILE, changes=(HOSTILE,), runbook=(HOSTILE,), caveat=HOSTILE),
        host=HOSTILE,
        state="failed",
        requested_by=CLI_USER,
        decided_by=CLI_USER,
        note=HOSTILE,
        current=(HOSTILE,),
        before={HOSTILE: HOSTILE},
        after={"k": HOSTILE},
        verification=(HOSTILE,),
        error=HOSTILE,
    )


HOSTILE_MESSAGES: dict[str, Any] = {
    "checking": lambda: Checking(HOSTILE, CLI_USER),
    "report": lambda: ReportView(
        _hostile_report(), CLI_USER, (FixButton(replace(LOW, title=HOSTILE), "t"),)
    ),
    "report_unreachable": lambda: ReportView(_hostile_report(unreachable_reason="dns"), CLI_USER),
    "details": lambda: ReportDetails(_hostile_report()),
    "notice": lambda: Notice(HOSTILE),
    "refusal": lambda: Refusal(HOSTILE),
    "approval_medium": lambda: _hostile_approval(MEDIUM),
    "approval_manual": lambda: _hostile_approval(MANUAL),
    "history": lambda: HistoryView(
        HOSTILE, (HistoryRow(HOSTILE, 1, NOW, Status.FAIL, HOSTILE, CLI_USER),)
    ),
    "history_empty": lambda: HistoryView(HOSTILE, ()),
}


@pytest.mark.parametrize("name", list(HOSTILE_MESSAGES))
def test_blocks_never_carry_a_live_mention_or_link(name: str) -> None:
    messages = render(HOSTILE_MESSAGES[name]())
    for message in messages:
        blocks = payload(message)["blocks"]
        assert_blocks_inert(blocks)
        assert HOSTILE_ESCAPED in json.dumps(blocks, ensure_ascii=False)


def test_builder_links_survive_escaping() -> None:
    (message,) = render(HOSTILE_MESSAGES["report"]())
    text = section_texts(message)[0]
    assert text.endswith(
        f"_Source (Automatic Updates must be updated, Cc708554):_ <{ARTICLE_URL}|§4> "
        f"{SECTIONS['§4']}"
    )
    assert "§99" not in text
    (details,) = render(HOSTILE_MESSAGES["details"]())
    links = SOURCE_LINK.findall(json.dumps(payload(details)["blocks"], ensure_ascii=False))
    assert sorted(links) == [f"<{ARTICLE_URL}|§4>", f"<{ARTICLE_URL}|§7>"]


def test_unreachable_reason_is_escaped() -> None:
    view = ReportView(_hostile_report(unreachable_reason=HOSTILE), CLI_USER)
    assert_blocks_inert(payload(report_message(view))["blocks"])


@pytest.mark.parametrize(
    "name",
    [
        "checking",
        "report",
        "details",
        "notice",
        "refusal",
        "approval_medium",
        "history",
        "history_empty",
    ],
)
def test_fallback_text_never_carries_a_live_mention_or_link(name: str) -> None:
    for message in render(HOSTILE_MESSAGES[name]()):
        assert_inert(payload(message)["text"])


def test_audit_line_exact() -> None:
    line = AuditLine("fix_requested", "U123", "pc1", LOW.id, "a1", "ok")
    assert audit_line(line).as_kwargs() == {
        "text": "`fix_requested` by <@U123> on *pc1* · fix `client.reset_au_state` · "
        "approval `a1` · ok",
        "blocks": [],
    }
    assert audit_line(AuditLine("check", "cli:alice")).text == "`check` by cli:alice"


def test_audit_line_escapes_cli_users() -> None:
    assert audit_line(AuditLine("check", CLI_USER)).text == "`check` by cli:&lt;!channel&gt;"


def test_audit_line_escapes_host_and_outcome() -> None:
    line = AuditLine("check", CLI_USER, host=HOSTILE, outcome=HOSTILE)
    assert_inert(audit_line(line).text)


# --- render ----------------------------------------------------------------------------


def _one_of_each() -> list[ChatMessage]:
    digest = Digest("morning", NOW, servers_read=["wsus01"], computers_seen=2)
    digest.add([Sighting("pc1", Cause.STALE_SYNC, "never synced", "wsus01")])
    top = (TopHost("pc1", tuple(digest.by_host()["pc1"]), "tok"),)
    many = report(*(finding(f"c.{i:03d}", Status.PASS) for i in range(120)))
    return [
        Checking("pc1", "U1"),
        ReportView(report(finding("c.a")), "U1", (FixButton(LOW, "t"),), run_id=1),
        ReportDetails(many),
        Notice("note"),
        Refusal("no"),
        approval(MEDIUM),
        AuditLine("check", "U1", "pc1"),
        DigestView(digest, compare(digest.stalled, None), top, csv_attached=True),
        HealthyDigestView(Digest("evening", NOW, servers_read=["wsus01"])),
        HistoryView("pc1", (row("pc1"),)),
        BatchView(
            batch_id="bat_1",
            fix=get_fix("client.restart_wuauserv"),
            state="requested",
            source="group lab",
            requested_by="U1",
            expires_at=NOW,
            plan={
                "canary": 1,
                "wave_size": 10,
                "failure_threshold": 1,
                "pause_s": 0,
                "concurrency": 4,
                "host_deadline_s": 60,
            },
            hosts=("pc1", "pc2"),
            counts={"pending": 2},
            controls=("approve", "deny"),
            token="tok",
        ),
    ]


def test_render_handles_every_chat_message() -> None:
    built = _one_of_each()
    assert {type(m) for m in built} == set(get_args(ChatMessage))
    for message in built:
        rendered = render(message)
        assert isinstance(rendered, list), type(message)
        assert rendered, type(message)
        for item in rendered:
            assert isinstance(item, Message)
            assert_message_within_limits(item)
            assert item.text
    details = render(built[2])
    assert [len(m.blocks) for m in details] == [50, 50, 20]


def test_render_routes_each_view_to_its_builder() -> None:
    for message in _one_of_each():
        if isinstance(message, ReportDetails | DigestView | HealthyDigestView | AuditLine):
            continue
        builder: Any = {
            Checking: checking,
            ReportView: report_message,
            Notice: lambda m: notice(m.text),
            Refusal: lambda m: refusal(m.text),
            ApprovalView: approval_card,
            HistoryView: history_message,
            BatchView: batch_card,
        }[type(message)]
        assert render(message) == [builder(message)]


def test_home_counts_every_failing_host_and_lists_what_the_use_case_chose() -> None:
    shown = tuple(
        HistoryRow(f"pc{i}", i, NOW, Status.FAIL, "client.wuauserv", "U1") for i in range(15)
    )
    blocks = [b.to_dict() for b in home_view_blocks(HomeView(shown, failing=shown, failing_more=5))]
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    assert "Failing hosts (20)" in headers
    texts = json.dumps(blocks, ensure_ascii=False)
    assert all(f"pc{i}" in texts for i in range(15))
    assert "… and 5 more" in texts
