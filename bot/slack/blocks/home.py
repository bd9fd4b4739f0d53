"""The App Home tab: the latest verdict of each host, worst first."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, DividerBlock

from bot.slack.blocks.common import (
    BLOCKS_PER_VIEW,
    EMOJI,
    context,
    escape,
    header,
    section,
)
from bot.views import HomeView

#: 20 hosts a section keeps each under Slack's 3,000 characters
HOSTS_PER_SECTION = 20
NO_ROLE_TEXT = "you need the viewer role to see host verdicts here"


def home_view_blocks(view: HomeView) -> list[Block]:
    if not view.allowed:
        return [section(f":no_entry: {escape(NO_ROLE_TEXT)}")]
    blocks: list[Block] = [
        header("WSUS self-update: latest verdicts"),
        context("Latest check of each host. `/wsus check <host>` runs a new one."),
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
    for start in range(0, len(lines), HOSTS_PER_SECTION):
        if len(blocks) >= BLOCKS_PER_VIEW - 1:
            blocks.append(context(f"… and {len(lines) - start} more hosts"))
            break
        blocks.append(section("\n".join(lines[start : start + HOSTS_PER_SECTION])))
    return blocks


def home_view(view: HomeView) -> dict[str, object]:
    """The ``view`` argument of views.publish."""
    return {"type": "home", "blocks": [block.to_dict() for block in home_view_blocks(view)]}
