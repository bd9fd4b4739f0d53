"""Terminal rendering of reports and the catalogue (rich). Lays out; never decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from checks.fixes import FixMeta
from checks.model import Check, CheckMeta, Status
from checks.report import Report
from checks.seed import ARTICLE_ID, ARTICLE_TITLE, ARTICLE_URL, references

STATUS_STYLE = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.UNKNOWN: "magenta",
    Status.SKIP: "dim",
}


def status_text(status: Status) -> Text:
    return Text(status.value.upper(), style=STATUS_STYLE[status])


def print_report(console: Console, report: Report) -> None:
    counts = ", ".join(f"{n} {s.value}" for s, n in report.counts.items() if n)
    title = Text.assemble(
        (f"{report.host}", "bold"),
        f" ({report.role or 'role unknown'}): ",
        status_text(report.verdict),
        f"  [{counts}]",
    )
    console.print(title)
    if report.unreachable_reason:
        console.print(Text(f"host could not be read: {report.unreachable_reason}", "magenta"))
    table = Table(show_lines=False, expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("§", no_wrap=True)
    table.add_column("summary / evidence")
    for finding in sorted(report.findings, key=lambda f: (-f.status.rank, f.check)):
        body = Text(finding.summary)
        if finding.status not in (Status.PASS, Status.SKIP):
            for line in finding.evidence:
                body.append("\n  • " + line, style="dim")
            if finding.next_step:
                body.append("\n  → " + finding.next_step, style="cyan")
        table.add_row(
            finding.check,
            status_text(finding.status),
            " ".join(report.seeds.get(finding.check, ())),
            body,
        )
    console.print(table)
    shown = sorted(
        {
            s
            for f in report.findings
            if f.status not in (Status.PASS, Status.SKIP)
            for s in report.seeds.get(f.check, ())
        },
        key=_section_order,
    )
    print_sources(console, shown)
    fixes = report.proposed_fixes
    if fixes:
        console.print(Text("Proposed fixes:", "bold"))
        for fix in fixes:
            console.print(f"  {fix.id} [{fix.risk.value}] {fix.title}")


def _section_order(section: str) -> int:
    digits = section.lstrip("§")
    return int(digits) if digits.isdigit() else 999


def print_sources(console: Console, sections: Sequence[str]) -> None:
    """Where the § numbers point: the article, and the title of each section named."""
    refs = references(tuple(sections))
    if not refs:
        return
    console.print(Text(f"§ = sections of Microsoft's “{ARTICLE_TITLE}” ({ARTICLE_ID}):", "dim"))
    console.print(Text(f"  {ARTICLE_URL}", "dim"), soft_wrap=True)
    for ref in refs:
        console.print(Text(f"  {ref.section} {ref.title}", "dim"))


def print_summary(console: Console, reports: Sequence[Report]) -> None:
    table = Table(title="fleet summary")
    table.add_column("host")
    table.add_column("role")
    table.add_column("verdict")
    for status in (Status.FAIL, Status.WARN, Status.UNKNOWN, Status.PASS):
        table.add_column(status.value, justify="right")
    table.add_column("failing checks / reason")
    for report in sorted(reports, key=lambda r: (-r.verdict.rank, r.host)):
        failing = report.problem_line
        counts = report.counts
        table.add_row(
            report.host,
            report.role or "?",
            status_text(report.verdict),
            *(str(counts[s]) for s in (Status.FAIL, Status.WARN, Status.UNKNOWN, Status.PASS)),
            failing,
        )
    console.print(table)


def print_catalogue(console: Console, checks: Sequence[Check[object]]) -> None:  # type: ignore[type-var]
    table = Table(title="wsusbot checks")
    for column in ("id", "role", "severity", "§", "fix", "title"):
        table.add_column(column)
    for check in checks:
        meta = check.meta
        table.add_row(
            meta.id,
            meta.role,
            meta.severity.value,
            " ".join(meta.seed),
            meta.fix or "—",
            meta.title,
        )
    console.print(table)
    print_sources(console, sorted({s for c in checks for s in c.meta.seed}, key=_section_order))


def print_explain(console: Console, meta: CheckMeta, fix: FixMeta | None) -> None:
    console.print(Text(f"{meta.id} — {meta.title}", "bold"))
    console.print(f"role: {meta.role}   severity: {meta.severity.value}")
    for ref in references(meta.seed):
        console.print(f"source: {ref.label()}", soft_wrap=True)
        console.print(f"        {ref.url}", soft_wrap=True)
    if meta.description:
        console.print(f"\nWhat it checks: {meta.description}")
    console.print(f"Facts read: {', '.join(meta.reads)}")
    console.print(f"\nWhat to do when it fails: {meta.remediation}")
    if fix is None:
        console.print("\nFix: none the bot can run (follow the remediation above).")
        return
    console.print(f"\nFix: {fix.id} — {fix.title} (risk: {fix.risk.value})")
    for change in fix.changes:
        console.print(f"  • {change}")
    if fix.runbook:
        console.print("Runbook:")
        for number, step in enumerate(fix.runbook, 1):
            console.print(f"  {number}. {step}")
    if fix.caveat:
        console.print(Text(f"Note: {fix.caveat}", "yellow"))
    console.print(f"Verified by: {', '.join(fix.verified_by)}")


def blocks_to_text(blocks: Sequence[dict[str, Any]]) -> Text:
    """A terminal rendering of Block Kit: header bold, sections and fields as styled
    mrkdwn (not asterisks), context dimmed, buttons as [ label ]."""
    from bot.render.mrkdwn import to_text, unescape

    def styled(node: object) -> Text:
        if not isinstance(node, dict):
            return Text()
        raw = str(node.get("text", ""))
        return to_text(raw) if node.get("type") == "mrkdwn" else Text(unescape(raw))

    out: list[Text] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            line = styled(block.get("text"))
            line.stylize("bold")
            out.append(line)
        elif kind == "section":
            if block.get("text"):
                out.append(styled(block.get("text")))
            for item in block.get("fields") or ():
                out.append(Text("  ").append_text(styled(item)))
        elif kind == "context":
            line = Text(" ").join(styled(e) for e in block.get("elements", []))
            line.stylize("dim")
            out.append(line)
        elif kind == "actions":
            labels = [
                Text(f"[ {unescape(str(e.get('text', {}).get('text', '')))} ]", style="cyan")
                for e in block.get("elements", [])
            ]
            out.append(Text("  ").join(labels))
        elif kind == "divider":
            out.append(Text("─" * 20, style="dim"))
    return Text("\n").join(out)
