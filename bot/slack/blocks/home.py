"""The App Home tab: the latest verdict of each host, worst first."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, DividerBlock

from bot.slack.blocks.common import (
    BLOCKS_PER_VIEW,
    EMOJI,
    SECTION_LIMIT,
    clip,
    context,
    escape,
    header,
    section,
)
from bot.views import HomeView

#: at most this many hosts a section (fewer when their lines are long)
HOSTS_PER_SECTION = 20
#: one host's line: its name, time and failing checks
LINE_LIMIT = 600
NO_ROLE_TEXT = "you need the viewer role to see host verdicts here"


def home_view_blocks(view: HomeView) -> list[Block]:
    if not view.allowed:
        return [section(f":no_entry: {escape(NO_ROLE_TEXT)}")]
    blocks: list[Block] = [
        header("WSUS self-update: latest verdicts"),
        context("Latest check of each host. `/wsus check &lt;host&gt;` runs a new one."),
        DividerBlock(),
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
