"""Block Kit for the stalled self-update digest: totals and trend, one section per cause,
the top hosts with a "Check" button each. Names come from servers' inventories and logs,
so every one is escaped; every section is cut to Slack's limits and the message never
exceeds 50 blocks whatever the size of the estate."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)

from bot.digest.causes import EXPLANATIONS, NAMES_PER_CAUSE, ORDER, TITLES, Digest
from bot.digest.trend import Trend
from bot.slack import ids
from bot.slack.blocks.common import (
    BLOCKS_PER_MESSAGE,
    HEADER_LIMIT,
    Message,
    clip,
    escape,
    md,
)
from bot.views import DigestView, HealthyDigestView, TopHost

#: names listed in the trend line for new and resolved hosts
TREND_NAMES = 10
HEALTHY_TEXT = "all clients self-updating"


def _names(hosts: Sequence[str], limit: int) -> str:
    shown = ", ".join(f"`{escape(h)}`" for h in hosts[:limit])
    if len(hosts) > limit:
        shown += f" … and {len(hosts) - limit} more"
    return shown


def _not_read(digest: Digest) -> str | None:
    if not digest.not_read:
        return None
    return ":warning: not read: " + ", ".join(
        f"{escape(n.server)} ({escape(n.reason)})" for n in digest.not_read
    )


def _summary(digest: Digest, trend: Trend) -> str:
    stalled = digest.stalled
    servers = ", ".join(escape(s) for s in digest.servers_read) or "none"
    lines = [
        f"*{len(stalled)} client{'s' if len(stalled) != 1 else ''} stalled* · "
        f"{digest.computers_seen} computers in the inventory of {servers}",
        f"Trend: {trend.line()}",
    ]
    if trend.has_previous and trend.new:
        lines.append(f"New: {_names(trend.new, TREND_NAMES)}")
    if trend.has_previous and trend.resolved:
        lines.append(f"Resolved: {_names(trend.resolved, TREND_NAMES)}")
    return "\n".join(lines)


def _cause_section(view: DigestView, index: int) -> SectionBlock | None:
    digest = view.digest
    cause = ORDER[index]
    sightings = digest.hosts(cause)
    if not sightings:
        return None
    count = len(sightings)
    text = (
        f"*{TITLES[cause]}* — {count} host{'s' if count != 1 else ''}\n"
        f"_{EXPLANATIONS[cause]}_\n" + _names([s.host for s in sightings], NAMES_PER_CAUSE)
    )
    token = view.batch_tokens.get(cause.value)
    # one approval for the group's hosts: the batch card (bot/slack/blocks/batch.py)
    button = (
        ButtonElement(
            text=PlainTextObject(text="Fix these hosts"), action_id=ids.BATCH_DIGEST, value=token
        )
        if token
        else None
    )
    return SectionBlock(block_id=f"cause:{cause.value}", text=md(text), accessory=button)


def _top_host(index: int, top: TopHost) -> SectionBlock:
    causes = " · ".join(f"{TITLES[s.cause]}: {escape(clip(s.detail, 300))}" for s in top.sightings)
    text = f"*{escape(top.host)}*\n{causes}"
    button = None
    if top.token is not None:
        button = ButtonElement(
            text=PlainTextObject(text="Check"),
            action_id=ids.DIGEST_CHECK,
            value=top.token,
        )
    return SectionBlock(block_id=f"top:{index}", text=md(text), accessory=button)


def digest_message(view: DigestView) -> Message:
    digest, trend, top, csv_attached = view.digest, view.trend, view.top, view.csv_attached
    stalled = digest.stalled
    title = f"WSUS self-update digest · {digest.digest_id}"
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(title, HEADER_LIMIT), emoji=True)),
        SectionBlock(text=md(_summary(digest, trend))),
    ]
    unread = _not_read(digest)
    if unread:
        blocks.append(ContextBlock(elements=[md(unread)]))
    blocks.append(DividerBlock())
    for index in range(len(ORDER)):
        section = _cause_section(view, index)
        if section is not None:
            blocks.append(section)
    if top:
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=md(f"*Top {len(top)} hosts*")))
        # room is kept for the closing context block
        room = BLOCKS_PER_MESSAGE - len(blocks) - 1
        blocks.extend(_top_host(i, t) for i, t in enumerate(top[:room]))
    if csv_attached:
        blocks.append(
            ContextBlock(
                elements=[md(f"The full list of {len(stalled)} hosts is in the CSV in the thread.")]
            )
        )
    text = f"WSUS digest {digest.digest_id}: {len(stalled)} clients stalled ({trend.line()})"
    if unread:
        text += f"; {unread.removeprefix(':warning: ')}"
    return Message(text=text, blocks=blocks[:BLOCKS_PER_MESSAGE])


def healthy_message(view: HealthyDigestView) -> Message:
    digest = view.digest
    servers = ", ".join(escape(s) for s in digest.servers_read) or "no server"
    text = f":white_check_mark: {HEALTHY_TEXT} ({digest.computers_seen} computers on {servers})"
    blocks: list[Block] = [SectionBlock(text=md(text))]
    unread = _not_read(digest)
    if unread:
        blocks.append(ContextBlock(elements=[md(unread)]))
    return Message(text=HEALTHY_TEXT + (f"; {unread}" if unread else ""), blocks=blocks)
