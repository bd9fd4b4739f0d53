"""Check results, history, help and the catalogue as Block Kit."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, PlainTextObject

from bot.slack import ids
from bot.slack.blocks.common import (
    BLOCKS_PER_MESSAGE,
    BUTTON_TEXT_LIMIT,
    EMOJI,
    SECTION_LIMIT,
    Message,
    clip,
    context,
    escape,
    escape_clipped,
    header,
    mention,
    section,
)
from bot.views import Checking, FixButton, HistoryView, ReportDetails, ReportView
from checks.model import Check, Finding, Status
from checks.report import Report
from checks.seed import references

#: evidence lines quoted per finding before "… and N more"
EVIDENCE_SHOWN = 8
EVIDENCE_LINE_LIMIT = 300
SUMMARY_LIMIT = 600
NEXT_STEP_LIMIT = 600
#: Slack allows 25 elements in an actions block
BUTTONS_PER_BLOCK = 25


def checking(view: Checking) -> Message:
    return Message(
        text=f"checking {escape(view.host)}…",
        blocks=[
            section(f":hourglass_flowing_sand: checking *{escape(view.host)}*…"),
            context(f"asked by {mention(view.user)}"),
        ],
    )


def counts_line(report: Report) -> str:
    order = (Status.FAIL, Status.WARN, Status.UNKNOWN, Status.PASS, Status.SKIP)
    parts = [f"{report.counts[s]} {s.value}" for s in order if report.counts[s]]
    return " · ".join(parts) or "no checks ran"


def source_line(sections: Sequence[str]) -> str | None:
    """``_Source:_ <url|Cc708554> §4 Verify the self-update tree…`` (a link a reader opens)."""
    refs = references(tuple(sections))
    if not refs:
        return None
    parts = [f"<{ref.url}|{ref.section}> {escape(ref.title)}" for ref in refs]
    return "_Source (Automatic Updates must be updated, Cc708554):_ " + "; ".join(parts)


def finding_text(finding: Finding, seeds: Sequence[str]) -> str:
    """One finding as mrkdwn within a section's 3,000 characters: the summary, the next
    step and the source always whole; the evidence fills what room is left."""
    head = f"{EMOJI[finding.status]} *{escape(finding.check)}* — " + escape_clipped(
        finding.summary, SUMMARY_LIMIT
    )
    tail = []
    if finding.next_step:
        tail.append("_Next:_ " + escape_clipped(finding.next_step, NEXT_STEP_LIMIT))
    source = source_line(seeds)
    if source:
        tail.append(source)
    # room for the lines, their newlines and an "… and N more" line
    room = SECTION_LIMIT - len(head) - sum(len(t) + 1 for t in tail) - 40
    lines = [head]
    shown = 0
    for item in finding.evidence[:EVIDENCE_SHOWN]:
        line = "• " + escape_clipped(item, EVIDENCE_LINE_LIMIT)
        if len(line) + 1 > room:
            break
        lines.append(line)
        room -= len(line) + 1
        shown += 1
    if len(finding.evidence) > shown:
        lines.append(f"• … and {len(finding.evidence) - shown} more")
    return "\n".join(lines + tail)


def _unreachable_section(report: Report) -> Block:
    if not report.findings:
        return section(f"host could not be read ({escape(report.unreachable_reason or '')})")
    first = report.findings[0]
    evidence = first.evidence[0] if first.evidence else ""
    return section(
        f":electric_plug: *host could not be read ({escape(report.unreachable_reason or '')})*\n"
        f"{escape_clipped(evidence, 2000)}\n_Next:_ {escape_clipped(first.next_step or '', 600)}"
    )


def report_message(view: ReportView) -> Message:
    report = view.report
    verdict = report.verdict
    title = f"{report.host}: {verdict.value.upper()}"
    blocks: list[Block] = [
        header(f"{EMOJI[verdict]} {title}"),
        context(
            f"*{report.role or 'role unknown'}* · {counts_line(report)} · asked by "
            f"{mention(view.requested_by)}"
            + (f" · run {view.run_id}" if view.run_id is not None else "")
        ),
    ]
    if report.unreachable_reason:
        blocks.append(_unreachable_section(report))
    else:
        problems = [f for f in report.problems if f.status is not Status.UNKNOWN] + [
            f for f in report.problems if f.status is Status.UNKNOWN
        ]
        # room for the "… more" line, the buttons and the closing context
        room = BLOCKS_PER_MESSAGE - len(blocks) - 3
        for finding in problems[:room]:
            blocks.append(section(finding_text(finding, report.seeds.get(finding.check, ()))))
        if len(problems) > room:
            blocks.append(context(f"… and {len(problems) - room} more findings in the thread"))
        if not problems:
            blocks.append(section("Every check passed. :tada:"))
    if view.fix_buttons:
        blocks.append(
            ActionsBlock(
                block_id=ids.FIXES_BLOCK,
                elements=[fix_request_button(b) for b in view.fix_buttons[:BUTTONS_PER_BLOCK]],
            )
        )
    blocks.append(context("Details of every check are in the thread."))
    return Message(text=f"{escape(title)} ({counts_line(report)})", blocks=blocks)


def fix_request_button(button: FixButton) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=clip(f"Request fix: {button.fix.title}", BUTTON_TEXT_LIMIT)),
        action_id=ids.fix_request_action(button.fix.id),
        value=button.token,
    )


def report_details(view: ReportDetails) -> list[Message]:
    """Every finding, passes included, as thread replies of at most 50 blocks each."""
    report = view.report
    blocks: list[Block] = [
        section(finding_text(finding, report.seeds.get(finding.check, ())))
        for finding in sorted(report.findings, key=lambda f: (-f.status.rank, f.check))
    ]
    messages = [
        Message(
            text=f"details for {escape(report.host)}",
            blocks=blocks[start : start + BLOCKS_PER_MESSAGE],
        )
        for start in range(0, len(blocks), BLOCKS_PER_MESSAGE)
    ]
    return messages or [Message(text="no findings", blocks=[section("no findings")])]


def help_message(usage: str) -> Message:
    return Message(
        text="wsusbot help",
        blocks=[
            header("wsusbot"),
            section(
                "I check WSUS servers and clients whose Automatic Updates agent does not "
                "self-update, following Microsoft's troubleshooting procedure, and offer "
                "fixes that a second person approves.\n\n" + escape(usage).replace(" · ", "\n")
            ),
        ],
    )


def catalogue_message(checks: Sequence[Check]) -> Message:  # type: ignore[type-arg]
    lines_by_role: dict[str, list[str]] = {}
    for check in checks:
        meta = check.meta
        fix = f" → fix `{meta.fix}`" if meta.fix else ""
        lines_by_role.setdefault(meta.role, []).append(
            f"`{meta.id}` {escape(meta.title)} ({' '.join(meta.seed) or '—'}){fix}"
        )
    blocks: list[Block] = [header("wsusbot checks")]
    for role, lines in lines_by_role.items():
        blocks.append(section(f"*{role} checks*\n" + "\n".join(lines)))
    blocks.append(
        context(
            "§ = sections of Microsoft's article “Automatic Updates must be updated” (Cc708554)"
        )
    )
    return Message(text=f"{len(checks)} checks", blocks=blocks)


def history_message(view: HistoryView) -> Message:
    if not view.rows:
        return Message(
            text=f"no checks of {escape(view.host)} yet",
            blocks=[section(f"No checks of *{escape(view.host)}* recorded yet.")],
        )
    lines = [
        f"{EMOJI[row.verdict]} {row.finished_at:%Y-%m-%d %H:%M} UTC · run {row.run_id} · "
        f"{escape(row.failing) or 'all passed'} · {mention(row.requested_by)}"
        for row in view.rows
    ]
    return Message(
        text=f"history of {escape(view.host)}",
        blocks=[header(f"history of {view.host}"), section("\n".join(lines))],
    )
