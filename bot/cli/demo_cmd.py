"""``wsusbot demo``: wsusbot's main job, end to end, on the embedded lab.

A simulated WSUS estate and a local Slack start on loopback; the real bot connects in
Socket Mode; lab users type ``/wsus check`` for each host, an operator requests a fix and
a second person approves it; the conversation is printed as it happens. Nothing leaves
127.0.0.0/8, and nothing needs Windows or a Slack workspace.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.lab_cmd import _wait_for_signal, slack_sections, start_estate
from bot.cli.state import state_of

if TYPE_CHECKING:
    from rich.console import Console

CHANNEL = "C0WSUS"
#: what the operator types in the "Request a fix" modal
DEMO_REASON = "the lab check failed; fixing it as the demo"
OPERATOR, APPROVER, VIEWER = "U0OPER", "U0APPR", "U0VIEWER"


def _wait(predicate: Any, timeout: float = 60.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError("the demo waited too long for the bot")


def _verdict(slack: Any, host: str) -> Any:
    return _wait(
        lambda: next((m for m in slack.messages(CHANNEL) if m.text.startswith(f"{host}: ")), None)
    )


def _show(console: Console, who: str, message: Any) -> None:
    from rich.panel import Panel

    from bot.render.terminal import blocks_to_text

    console.print(
        Panel(blocks_to_text(message.blocks), title=who, title_align="left", expand=False)
    )


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        ctx: typer.Context,
        scenario: str = typer.Option("mixed", "--scenario", "-s", help="Lab scenario."),
        keep_running: bool = typer.Option(
            False, "--keep-running", help="Leave the lab, local Slack and bot up afterwards."
        ),
        workdir: Path | None = typer.Option(None, "--workdir"),
    ) -> None:
        """Run wsusbot on the embedded lab: checks, a two-person fix, the conversation."""
        from bot.config import load_settings
        from bot.runtime import BotRuntime
        from lab.slack import LocalSlack

        console = state_of(ctx).out
        estate = start_estate(scenario, 0, workdir)
        slack = LocalSlack().start()
        runtime = None
        try:
            config = estate.write_config(
                estate.workdir / "wsusbot.toml", slack_sections(slack, estate.workdir)
            )
            runtime = BotRuntime(
                load_settings(config, env={}), mode="socket", health_port=None, env={}
            ).start()
            slack.wait_for_socket()
            hosts = [h.name for h in estate.hosts if h.winrm_url]
            console.print(
                f"[bold]lab[/bold] {scenario}: {', '.join(hosts)} · local Slack "
                f"{slack.api_url} · config {config}"
            )
            for host in hosts:
                console.print(f"\n[green]{VIEWER}[/green] types [bold]/wsus check {host}[/bold]")
                slack.type_command(VIEWER, CHANNEL, "/wsus", f"check {host}")
                _show(console, "wsusbot", _verdict(slack, host))
            _demo_fix(console, slack, hosts)
            _demo_batch(console, slack)
            if keep_running:
                console.print(f"\nlab ready — config {config}; Ctrl-C to stop")
                _wait_for_signal()
        finally:
            if runtime is not None:
                runtime.stop()
            slack.stop()
            estate.stop()


def _in_thread(slack: Any, thread_ts: str, test: Any, timeout: float = 60.0) -> Any:
    return _wait(
        lambda: next((m for m in slack.messages(CHANNEL, thread_ts=thread_ts) if test(m)), None),
        timeout=timeout,
    )


def _first_fix_button(message: Any) -> str | None:
    for block in message.blocks:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", []):
            action = str(element.get("action_id", ""))
            # a manual runbook makes a dull demo: show a fix the bot runs
            if action.startswith("fix_request:") and "sharepoint" not in action:
                return action
    return None


def _with_reason(slack: Any, message_ts: str, action: str) -> None:
    """Click "Request fix", then answer the modal the bot opens asking why."""
    from bot.slack import ids

    def modals() -> list[Any]:
        return [v for v in slack.views(OPERATOR) if v.kind == "modal" and not v.closed]

    before = {v.id for v in modals()}
    slack.click_button(OPERATOR, CHANNEL, message_ts, action)
    modal = _wait(lambda: next((v for v in modals() if v.id not in before), None), timeout=10)
    values = {
        ids.REASON_BLOCK: {ids.REASON_INPUT: {"type": "plain_text_input", "value": DEMO_REASON}}
    }
    slack.submit_view(OPERATOR, modal.id, values)


def _demo_fix(console: Console, slack: Any, hosts: list[str]) -> None:
    """The first executable fix proposed: requested by the operator, approved by another."""
    for host in hosts:
        message = _verdict(slack, host)
        action = _first_fix_button(message)
        if action is None:
            continue
        fix = action.partition(":")[2]
        console.print(
            f"\n[green]{OPERATOR}[/green] clicks [bold]Request fix[/bold] ({fix}) on {host}"
        )
        _with_reason(slack, message.ts, action)
        console.print(f"[green]{OPERATOR}[/green] says why: [italic]{DEMO_REASON}[/italic]")
        card = _in_thread(slack, message.ts, lambda m, f=fix: m.text.startswith(f"fix {f} "))
        _show(console, "wsusbot (in thread)", card)
        console.print(f"[green]{APPROVER}[/green] clicks [bold]Approve[/bold]")
        slack.click_button(APPROVER, CHANNEL, card.ts, "approval_approve")
        done = _in_thread(
            slack,
            message.ts,
            lambda m, ts=card.ts: m.ts == ts and m.text.endswith((": succeeded", ": failed")),
            timeout=90,
        )
        _show(console, "wsusbot (in thread)", done)
        return
    console.print("\nno executable fix was proposed in this scenario")


#: the demo's batch: one approval for a fix on the lab group's hosts that need it
BATCH_FIX = "client.restart_wuauserv"


def _demo_batch(console: Console, slack: Any) -> None:
    """A batch fix: requested for the ``lab`` group, approved by a second person, run
    canary first; the card is the one progress message, the summary is in its thread."""
    console.print(f"\n[green]{OPERATOR}[/green] types [bold]/wsus fix {BATCH_FIX} group lab[/bold]")
    slack.type_command(OPERATOR, CHANNEL, "/wsus", f"fix {BATCH_FIX} group lab")

    def batch_card(*states: str) -> Any:
        return next(
            (
                m
                for m in slack.messages(CHANNEL)
                if m.text.startswith(f"batch {BATCH_FIX} ")
                and (not states or m.text.endswith(tuple(f": {s}" for s in states)))
            ),
            None,
        )

    try:
        card = _wait(lambda: batch_card("requested"), timeout=30)
    except TimeoutError:
        refusals = [str(r.body.get("text")) for r in slack.responses()]
        console.print("no batch was opened: " + (refusals[-1] if refusals else "no answer"))
        return
    _show(console, "wsusbot", card)
    console.print(f"[green]{APPROVER}[/green] clicks [bold]Approve[/bold] on the batch card")
    slack.click_button(APPROVER, CHANNEL, card.ts, "batch_approve")
    done = _wait(lambda: batch_card("completed", "halted", "aborted"), timeout=90)
    _show(console, "wsusbot (the same card, updated in place)", done)
    summary = _in_thread(slack, done.ts, lambda m: m.text.startswith("batch `"), timeout=30)
    _show(console, "wsusbot (in thread)", summary)
