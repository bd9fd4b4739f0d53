"""The batch fix card: what will run (fix, risk, hosts, plan, expiry), then its progress
in place (wave, counts, why it halted), and the buttons its state allows."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    PlainTextObject,
)

from bot.slack import ids
from bot.slack.blocks.common import (
    Message,
    clip,
    context,
    escape,
    escape_clipped,
    header,
    md,
    mention,
    section,
)
from bot.usecases.batch.common import CARD_HOSTS
from bot.views import BatchView
from checks.fixes import Risk

#: hosts named on the card; the CSV in the thread lists all of them (the use case attaches
#: it past this many)
HOSTS_SHOWN = CARD_HOSTS
LEFT_OUT_SHOWN = 5
FAILURES_SHOWN = 5
CONFIRM_TEXT_LIMIT = 300

STATE_EMOJI = {
    "requested": ":hourglass:",
    "approved": ":gear:",
    "running": ":gear:",
    "paused": ":double_vertical_bar:",
    "awaiting_confirmation": ":raised_hand:",
    "halted": ":octagonal_sign:",
    "aborted": ":no_entry_sign:",
    "completed": ":white_check_mark:",
    "denied": ":no_entry_sign:",
    "expired": ":alarm_clock:",
    "withdrawn": ":heavy_multiplication_x:",
}

#: count keys in the order the progress line shows them
COUNT_ORDER = ("fixed", "failed", "unverified", "skipped", "started", "pending")


def _names(hosts: tuple[str, ...], limit: int) -> str:
    shown = ", ".join(f"`{escape(h)}`" for h in hosts[:limit])
    if len(hosts) > limit:
        shown += f" … and {len(hosts) - limit} more"
    return shown


def _plan_lines(view: BatchView) -> list[str]:
    plan = view.plan
    canary = int(plan["canary"])
    size = int(plan["wave_size"])
    threshold = int(plan["failure_threshold"])
    pause = float(plan["pause_s"])
    return [
        f"*Plan:* canary {_names(view.hosts[:canary], canary)} first — its verifying "
        f"checks must pass; then {max(view.waves - 1, 0)} wave(s) of up to {size} hosts, "
        f"{int(plan['concurrency'])} at a time, {float(plan['host_deadline_s']):g} s per host",
        f"*Halts* when more than {threshold} host{'s' if threshold != 1 else ''} of a wave "
        f"fail · *pause between waves:* {pause:g} s",
    ]


def _request_lines(view: BatchView) -> list[str]:
    fix = view.fix
    count = len(view.hosts)
    lines = [
        f"*Fix:* `{fix.id}` — {escape(fix.title)} (risk: *{fix.risk.value}*)",
        f"*Hosts:* {count} ({escape(view.source)}): {_names(view.hosts, HOSTS_SHOWN)}",
    ]
    if view.csv_attached:
        lines.append("_The full host list is in the CSV in the thread._")
    lines += _plan_lines(view)
    lines.append(
        f"*Requested by:* {mention(view.requested_by)} · "
        f"*expires:* {view.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    lines.append("*What will change on each host:*")
    lines += [f"• {escape(change)}" for change in fix.changes]
    if view.left_out:
        lines.append(
            f"*Left out:* {len(view.left_out)} host(s) whose latest check does not propose "
            f"this fix: {_names(view.left_out, LEFT_OUT_SHOWN)}"
        )
    if fix.caveat:
        lines.append(f":warning: {escape(fix.caveat)}")
    return lines


def _progress(view: BatchView) -> str:
    status = f"{STATE_EMOJI.get(view.state, '')} *{view.state.replace('_', ' ')}*"
    who = view.actor or view.decided_by
    if who:
        status += f" by {mention(who)}"
    if view.wave is not None and view.waves:
        status += " · " + ("canary" if view.wave == 0 else f"wave {view.wave} of {view.waves - 1}")
    counts = " · ".join(f"{key} {view.counts[key]}" for key in COUNT_ORDER if view.counts.get(key))
    if counts:
        status += f" · {counts}"
    return f"batch `{view.batch_id}` · {status}"


def _confirm(view: BatchView) -> ConfirmObject | None:
    if view.fix.risk not in (Risk.MEDIUM, Risk.HIGH):
        return None
    return ConfirmObject(
        title=PlainTextObject(text="Run this fix on every host?"),
        text=md(
            clip(
                f"*{escape(view.fix.title)}* ({view.fix.risk.value} risk) on "
                f"{len(view.hosts)} hosts, canary first",
                CONFIRM_TEXT_LIMIT,
            )
        ),
        confirm=PlainTextObject(text="Approve and run"),
        deny=PlainTextObject(text="Cancel"),
        style="danger" if view.fix.risk is Risk.HIGH else None,
    )


def _buttons(view: BatchView, token: str) -> list[ButtonElement]:
    made = {
        "approve": lambda: ButtonElement(
            text=PlainTextObject(text="Approve"),
            action_id=ids.BATCH_APPROVE,
            value=token,
            style="primary",
            confirm=_confirm(view),
        ),
        "deny": lambda: ButtonElement(
            text=PlainTextObject(text="Deny"), action_id=ids.BATCH_DENY, value=token, style="danger"
        ),
        "pause": lambda: ButtonElement(
            text=PlainTextObject(text="Pause"), action_id=ids.BATCH_PAUSE, value=token
        ),
        "resume": lambda: ButtonElement(
            text=PlainTextObject(text="Resume"),
            action_id=ids.BATCH_RESUME,
            value=token,
            style="primary",
        ),
        "confirm": lambda: ButtonElement(
            text=PlainTextObject(text="Confirm and resume"),
            action_id=ids.BATCH_RESUME,
            value=token,
            style="primary",
        ),
        "abort": lambda: ButtonElement(
            text=PlainTextObject(text="Abort"),
            action_id=ids.BATCH_ABORT,
            value=token,
            style="danger",
        ),
    }
    return [made[name]() for name in view.controls if name in made]


def batch_card(view: BatchView) -> Message:
    blocks: list[Block] = [
        header(f"Batch fix: {view.fix.title}"),
        section("\n".join(_request_lines(view))),
        context(_progress(view)),
    ]
    result: list[str] = []
    if view.reason:
        result.append(f"*Why:* {escape_clipped(view.reason, 800)}")
    if view.note:
        result.append(escape_clipped(view.note, 800))
    if view.failures:
        result.append(
            "*Failures:* "
            + "; ".join(escape_clipped(f, 200) for f in view.failures[:FAILURES_SHOWN])
        )
    if result:
        blocks.append(section("\n".join(result)))
    if view.token is not None and view.controls:
        blocks.append(ActionsBlock(block_id=ids.BATCH_BLOCK, elements=_buttons(view, view.token)))
    return Message(
        text=f"batch {view.fix.id} on {len(view.hosts)} hosts: {view.state}", blocks=blocks
    )
