"""Block Kit builders (slack_sdk.models.blocks, never raw dicts). They lay out; the
Finding/Report decides severity and wording. Everything a host or user wrote is escaped,
so facts cannot ping a channel or forge a link, and every piece is cut to Slack's limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.store.runs import RunSummary
from checks.fixes import FixMeta, Risk
from checks.model import Check, Finding, Status
from checks.report import Report

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
BLOCKS_PER_MESSAGE = 50
FALLBACK_LIMIT = 3000

EMOJI = {
    Status.PASS: ":white_check_mark:",
    Status.WARN: ":warning:",
    Status.FAIL: ":x:",
    Status.UNKNOWN: ":grey_question:",
    Status.SKIP: ":heavy_minus_sign:",
}


def escape(text: str) -> str:
    """Slack mrkdwn control characters (mentions, links) made literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, SECTION_LIMIT))


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_LIMIT), emoji=True))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[_md(text)])


@dataclass(frozen=True, slots=True)
class Message:
    """What chat.postMessage / chat.update take: fallback text plus blocks."""

    text: str
    blocks: list[Block]

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "text": clip(self.text, FALLBACK_LIMIT),
            "blocks": [block.to_dict() for block in self.blocks],
        }


@dataclass(frozen=True, slots=True)
class FixButton:
    fix: FixMeta
    token: str


# ---------------------------------------------------------------- check results


def checking(host: str, user: str) -> Message:
    return Message(
        text=f"checking {host}…",
        blocks=[
            SectionBlock(text=_md(f":hourglass_flowing_sand: checking *{escape(host)}*…")),
            _context(f"asked by <@{user}>"),
        ],
    )


def counts_line(report: Report) -> str:
    order = (Status.FAIL, Status.WARN, Status.UNKNOWN, Status.PASS, Status.SKIP)
    parts = [f"{report.counts[s]} {s.value}" for s in order if report.counts[s]]
    return " · ".join(parts) or "no checks ran"


def finding_text(finding: Finding, seeds: Sequence[str]) -> str:
    lines = [f"{EMOJI[finding.status]} *{finding.check}* — {escape(finding.summary)}"]
    lines += [f"• {escape(clip(item, 400))}" for item in finding.evidence[:8]]
    if len(finding.evidence) > 8:
        lines.append(f"• … and {len(finding.evidence) - 8} more")
    if finding.next_step:
        lines.append(f"_Next:_ {escape(finding.next_step)}")
    if seeds:
        lines.append(f"_Seed:_ {' '.join(seeds)}")
    return "\n".join(lines)


def report_message(
    report: Report,
    *,
    requested_by: str,
    fix_buttons: Sequence[FixButton] = (),
    run_id: int | None = None,
) -> Message:
    verdict = report.verdict
    title = f"{report.host}: {verdict.value.upper()}"
    blocks: list[Block] = [
        _header(f"{EMOJI[verdict]} {title}"),
        _context(
            f"*{report.role or 'role unknown'}* · {counts_line(report)} · asked by "
            f"<@{requested_by}>" + (f" · run {run_id}" if run_id is not None else "")
        ),
    ]
    if report.unreachable_reason:
        evidence = (
            report.findings[0].evidence[0]
            if report.findings and report.findings[0].evidence
            else ""
        )
        blocks.append(
            SectionBlock(
                text=_md(
                    f":electric_plug: *host could not be read ({report.unreachable_reason})*\n"
                    f"{escape(evidence)}\n_Next:_ {escape(report.findings[0].next_step or '')}"
                    if report.findings
                    else f"host could not be read ({report.unreachable_reason})"
                )
            )
        )
    else:
        problems = [f for f in report.problems if f.status is not Status.UNKNOWN] + [
            f for f in report.problems if f.status is Status.UNKNOWN
        ]
        room = BLOCKS_PER_MESSAGE - len(blocks) - 3
        for finding in problems[:room]:
            blocks.append(
                SectionBlock(text=_md(finding_text(finding, report.seeds.get(finding.check, ()))))
            )
        if len(problems) > room:
            blocks.append(_context(f"… and {len(problems) - room} more findings in the thread"))
        if not problems:
            blocks.append(SectionBlock(text=_md("Every check passed. :tada:")))
    if fix_buttons:
        blocks.append(
            ActionsBlock(
                block_id="fixes",
                elements=[fix_request_button(b) for b in fix_buttons[:25]],
            )
        )
    blocks.append(_context("Details of every check are in the thread."))
    return Message(text=f"{title} ({counts_line(report)})", blocks=blocks)


def fix_request_button(button: FixButton) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=clip(f"Request fix: {button.fix.title}", 75)),
        action_id=f"fix_request:{button.fix.id}",
        value=button.token,
    )


def report_details(report: Report) -> list[Message]:
    """Every finding, passes included, as thread replies of at most 50 blocks each."""
    blocks: list[Block] = []
    for finding in sorted(report.findings, key=lambda f: (-f.status.rank, f.check)):
        blocks.append(
            SectionBlock(text=_md(finding_text(finding, report.seeds.get(finding.check, ()))))
        )
    messages = []
    for start in range(0, len(blocks), BLOCKS_PER_MESSAGE):
        chunk = blocks[start : start + BLOCKS_PER_MESSAGE]
        messages.append(Message(text=f"details for {report.host}", blocks=chunk))
    return messages or [Message(text="no findings", blocks=[SectionBlock(text=_md("no findings"))])]


# ---------------------------------------------------------------- other answers


def help_message(usage: str) -> Message:
    return Message(
        text="wsusbot help",
        blocks=[
            _header("wsusbot"),
            SectionBlock(
                text=_md(
                    "I check WSUS servers and clients whose Automatic Updates agent does not "
                    "self-update, following Microsoft's troubleshooting procedure, and offer "
                    "fixes that a second person approves.\n\n" + usage.replace(" · ", "\n")
                )
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
    blocks: list[Block] = [_header("wsusbot checks")]
    for role, lines in lines_by_role.items():
        blocks.append(SectionBlock(text=_md(f"*{role} checks*\n" + "\n".join(lines))))
    return Message(text=f"{len(checks)} checks", blocks=blocks)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    host: str
    run_id: int
    finished_at: datetime
    verdict: Status
    failing: str
    requested_by: str


def history_row(run: RunSummary) -> HistoryRow:
    """A stored check run as one line: verdict, and the failing checks or why it failed."""
    report = Report.from_json(run.report)
    failing = run.unreachable_reason or report.problem_line
    return HistoryRow(
        host=run.host,
        run_id=run.id,
        finished_at=run.finished_at,
        verdict=Status(run.verdict),
        failing=failing,
        requested_by=run.requested_by,
    )


def history_message(host: str, rows: Sequence[HistoryRow]) -> Message:
    if not rows:
        return Message(
            text=f"no checks of {host} yet",
            blocks=[SectionBlock(text=_md(f"No checks of *{escape(host)}* recorded yet."))],
        )
    lines = [
        f"{EMOJI[row.verdict]} {row.finished_at:%Y-%m-%d %H:%M} UTC · run {row.run_id} · "
        f"{escape(row.failing) or 'all passed'} · {mention(row.requested_by)}"
        for row in rows
    ]
    return Message(
        text=f"history of {host}",
        blocks=[_header(f"history of {host}"), SectionBlock(text=_md("\n".join(lines)))],
    )


def mention(user: str) -> str:
    """A Slack user id as a mention; CLI users ("cli:alice") and "wsusbot" as written."""
    if user[:1] in ("U", "W") and user.isalnum():
        return f"<@{user}>"
    return escape(user)


def refusal(text: str) -> Message:
    return Message(text=text, blocks=[SectionBlock(text=_md(f":no_entry: {escape(text)}"))])


def notice(text: str) -> Message:
    return Message(text=text, blocks=[SectionBlock(text=_md(escape(text)))])


def home_view_blocks(rows: Sequence[HistoryRow]) -> list[Block]:
    """The App Home: the latest verdict of each host, worst first."""
    blocks: list[Block] = [
        _header("WSUS self-update: latest verdicts"),
        _context("Latest check of each host. `/wsus check <host>` runs a new one."),
        DividerBlock(),
    ]
    if not rows:
        blocks.append(SectionBlock(text=_md("No host has been checked yet.")))
        return blocks
    ordered = sorted(rows, key=lambda r: (-r.verdict.rank, r.host))
    lines = [
        f"{EMOJI[row.verdict]} *{escape(row.host)}* · {row.finished_at:%Y-%m-%d %H:%M} UTC"
        + (f" · {escape(row.failing)}" if row.failing else "")
        for row in ordered
    ]
    # a home tab holds 100 blocks; 20 hosts a section keeps each under 3,000 characters
    for start in range(0, len(lines), 20):
        if len(blocks) >= 99:
            blocks.append(_context(f"… and {len(lines) - start} more hosts"))
            break
        blocks.append(SectionBlock(text=_md("\n".join(lines[start : start + 20]))))
    return blocks


def confirm_for(fix: FixMeta) -> ConfirmObject | None:
    if fix.risk in (Risk.MEDIUM, Risk.HIGH):
        return ConfirmObject(
            title=PlainTextObject(text="Run this fix?"),
            text=_md(
                clip(
                    f"*{escape(fix.title)}* ({fix.risk.value} risk) changes the host:\n"
                    + "\n".join(f"• {escape(c)}" for c in fix.changes),
                    300,
                )
            ),
            confirm=PlainTextObject(text="Approve and run"),
            deny=PlainTextObject(text="Cancel"),
            style="danger" if fix.risk is Risk.HIGH else None,
        )
    return None


# ---------------------------------------------------------------- fix approvals


@dataclass(frozen=True, slots=True)
class ApprovalView:
    """What an approval card shows; built by the fix flow from the store and the facts."""

    approval_id: str
    host: str
    fix: FixMeta
    state: str
    requested_by: str
    expires_at: datetime
    current: tuple[str, ...] = ()
    decided_by: str | None = None
    note: str | None = None
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None
    verification: tuple[str, ...] = ()
    error: str | None = None


STATE_EMOJI = {
    "requested": ":hourglass:",
    "approved": ":gear:",
    "running": ":gear:",
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "denied": ":no_entry_sign:",
    "expired": ":alarm_clock:",
    "interrupted": ":warning:",
}


def _values(data: dict[str, object] | None) -> str:
    if not data:
        return "—"
    return ", ".join(f"{escape(str(k))}={escape(str(v))}" for k, v in list(data.items())[:12])


def approval_card(view: ApprovalView, *, buttons: Sequence[ButtonElement] = ()) -> Message:
    fix = view.fix
    lines = [
        f"*Host:* {escape(view.host)}",
        f"*Fix:* `{fix.id}` — {escape(fix.title)} (risk: *{fix.risk.value}*)",
        f"*Requested by:* <@{view.requested_by}> · *expires:* {view.expires_at:%Y-%m-%d %H:%M} UTC",
    ]
    if fix.risk is Risk.MANUAL:
        lines.append("*Runbook (the bot does not run this fix):*")
        lines += [f"{n}. {escape(step)}" for n, step in enumerate(fix.runbook, 1)]
    else:
        lines.append("*What will change:*")
        lines += [f"• {escape(change)}" for change in fix.changes]
    if view.current:
        lines.append("*Now on the host:* " + "; ".join(escape(c) for c in view.current))
    if fix.caveat:
        lines.append(f":warning: {escape(fix.caveat)}")
    status = f"{STATE_EMOJI.get(view.state, '')} *{view.state}*"
    if view.decided_by:
        status += f" by <@{view.decided_by}>"
    if view.note:
        status += f" — {escape(view.note)}"
    result_lines = []
    if view.before is not None or view.after is not None:
        result_lines.append(f"*Before:* {_values(view.before)}")
        result_lines.append(f"*After:* {_values(view.after)}")
    if view.verification:
        result_lines.append("*Re-check:* " + " · ".join(escape(v) for v in view.verification))
    if view.error:
        result_lines.append(f"*Error:* {escape(clip(view.error, 800))}")
    blocks: list[Block] = [
        _header(f"Fix request: {fix.title}"),
        SectionBlock(text=_md("\n".join(lines))),
        _context(f"approval `{view.approval_id}` · {status}"),
    ]
    if result_lines:
        blocks.append(SectionBlock(text=_md("\n".join(result_lines))))
    if buttons:
        blocks.append(ActionsBlock(block_id="approval", elements=list(buttons)))
    return Message(text=f"fix {fix.id} on {view.host}: {view.state}", blocks=blocks)


def approval_buttons(fix: FixMeta, token: str) -> list[ButtonElement]:
    if fix.risk is Risk.MANUAL:
        return [
            ButtonElement(
                text=PlainTextObject(text="Mark done"),
                action_id="approval_done",
                value=token,
                style="primary",
            ),
            ButtonElement(
                text=PlainTextObject(text="Cancel"), action_id="approval_deny", value=token
            ),
        ]
    return [
        ButtonElement(
            text=PlainTextObject(text="Approve"),
            action_id="approval_approve",
            value=token,
            style="primary",
            confirm=confirm_for(fix),
        ),
        ButtonElement(
            text=PlainTextObject(text="Deny"),
            action_id="approval_deny",
            value=token,
            style="danger",
        ),
    ]
