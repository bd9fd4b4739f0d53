"""The App Home tab: a "Check a host" button, the fix requests waiting for this approver
(Approve/Deny), the hosts whose latest check failed (a Check button each), then the latest
verdict of each host, worst first. A Home view holds at most 100 blocks
(https://api.slack.com/reference/surfaces/views)."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    PlainTextObject,
    SectionBlock,
)

from bot.slack import ids
from bot.slack.blocks.approval import approval_buttons
from bot.slack.blocks.common import (
    BLOCKS_PER_VIEW,
    EMOJI,
    SECTION_LIMIT,
    clip,
    context,
    escape,
    header,
    md,
    mention,
    section,
)
from bot.views import ApprovalView, HistoryRow, HomeView

#: at most this many hosts a section (fewer when their lines are long)
HOSTS_PER_SECTION = 20
#: one host's line: its name, time and failing checks
LINE_LIMIT = 600
NO_ROLE_TEXT = "you need the viewer role to see host verdicts here"


def _pending(approval: ApprovalView) -> list[Block]:
    fix = approval.fix
    text = (
        f"*{escape(fix.title)}* on *{escape(approval.host)}* (risk: *{fix.risk.value}*)\n"
        f"requested by {mention(approval.requested_by)} · "
        f"expires {approval.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    if approval.request_reason:
        text += f"\n_Reason:_ {escape(clip(approval.request_reason, 500))}"
    blocks: list[Block] = [section(text)]
    if approval.token is not None:
        blocks.append(
            ActionsBlock(
                block_id=ids.HOME_PENDING_BLOCK_PREFIX + approval.approval_id,
                elements=approval_buttons(fix, approval.token),
            )
        )
    return blocks


def _failing(row: HistoryRow) -> SectionBlock:
    text = f"{EMOJI[row.verdict]} *{escape(row.host)}* · {row.finished_at:%Y-%m-%d %H:%M} UTC"
    if row.failing:
        text += f"\n{escape(clip(row.failing, LINE_LIMIT))}"
    return SectionBlock(
        text=md(text),
        # the value only fills in the modal: the submission resolves the host again
        accessory=ButtonElement(
            text=PlainTextObject(text="Check"), action_id=ids.HOME_CHECK, value=row.host[:128]
        ),
    )


def _actions_part(view: HomeView) -> list[Block]:
    blocks: list[Block] = []
    if view.notice:
        blocks.append(section(f":information_source: {escape(clip(view.notice, 1000))}"))
    blocks.append(
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=PlainTextObject(text="Check a host"),
                    action_id=ids.HOME_CHECK_HOST,
                    style="primary",
                )
            ]
        )
    )
    if view.pending:
        total = len(view.pending) + view.pending_more
        blocks += [DividerBlock(), header(f"Fix requests waiting for a decision ({total})")]
        # how many are listed is the use case's (bot/usecases/home.py); the rest are counted
        for approval in view.pending:
            blocks += _pending(approval)
        if view.pending_more:
            blocks.append(context(f"… and {view.pending_more} more: decide them on their cards"))
    if view.failing:
        total = len(view.failing) + view.failing_more
        blocks += [DividerBlock(), header(f"Failing hosts ({total})")]
        blocks += [_failing(row) for row in view.failing]
        if view.failing_more:
            blocks.append(context(f"… and {view.failing_more} more"))
    return blocks


def home_view_blocks(view: HomeView) -> list[Block]:
    if not view.allowed:
        return [section(f":no_entry: {escape(NO_ROLE_TEXT)}")]
    blocks: list[Block] = _actions_part(view)
    blocks += [
        DividerBlock(),
        header("WSUS self-update: latest verdicts"),
        context("Latest check of each host. `/wsus check &lt;host&gt;` runs a new one."),
    ]
    if not view.rows:
        blocks.append(section("No host has been checked yet."))
        return blocks
    ordered = sorted(view.rows, key=lambda r: (-r.verdict.rank, r.host))
    lines = [
        f"{EMOJI[row.verdict]} *{escape(row.host)}* · {row.finished_at:%Y-%m-%d %H:%M} UTC"
        + (f" · {escape(row.failing)}" if row.failing else "")
        for row in ordered
    ]
    # sections filled up to Slack's 3,000 characters, so no host is cut off unseen
    chunk: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        line = clip(line, LINE_LIMIT)
        if chunk and (size + len(line) + 1 > SECTION_LIMIT or len(chunk) >= HOSTS_PER_SECTION):
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
            if len(blocks) >= BLOCKS_PER_VIEW - 1:
                blocks.append(context(f"… and {len(lines) - index} more hosts"))
                return blocks
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks


def home_view(view: HomeView) -> dict[str, object]:
    """The ``view`` argument of views.publish."""
    return {"type": "home", "blocks": [block.to_dict() for block in home_view_blocks(view)]}
