"""The real bot (Bolt, Socket Mode or HTTP) against the lab's local Slack and hosts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cli.lab_cmd import LAB_ROLES, slack_sections
from bot.config import Settings, load_settings
from bot.runtime import BotRuntime, Mode
from lab.estate import Estate
from lab.slack import LocalSlack

CHANNEL = "C0WSUS"


class TestClock:
    """The bot's clock: real time plus an offset the test moves with the lab clock."""

    __test__ = False

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


@dataclass
class SlackLab:
    estate: Estate
    slack: LocalSlack
    runtime: BotRuntime
    settings: Settings
    clock: TestClock
    config: Path

    def command(
        self, user: str, text: str, *, channel: str = CHANNEL, mode: Mode = "socket", **kwargs: Any
    ) -> Any:
        return self.slack.type_command(user, channel, "/wsus", text, mode=mode, **kwargs)

    def bot_messages(self, channel: str = CHANNEL) -> list[Any]:
        return self.slack.messages(channel)

    def final_message(self, host: str, channel: str = CHANNEL, timeout: float = 30.0) -> Any:
        """The top-level message about `host`, once it no longer says 'checking'."""

        def done() -> Any:
            for message in self.slack.messages(channel):
                if message.text.startswith(f"{host}: ") and "checking" not in message.text:
                    return message
            return None

        return self.slack.wait_for(done, timeout=timeout, description=f"verdict for {host}")

    def drain(self) -> None:
        assert self.runtime.ctx is not None
        self.runtime.ctx.worker.drain(60)


def lab_sections(slack: LocalSlack, workdir: Path, **overrides: Any) -> dict[str, Any]:
    sections = slack_sections(slack, workdir)
    sections.pop("digests", None)
    sections["roles"] = dict(LAB_ROLES)
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        sections.setdefault(section, {})[name] = value
    return sections


@contextmanager
def slack_lab(
    scenario: str,
    tmp_path: Path,
    *,
    mode: Mode = "socket",
    database_url: str | None = None,
    clock: TestClock | None = None,
    estate: Estate | None = None,
    slack: LocalSlack | None = None,
    **overrides: Any,
) -> Iterator[SlackLab]:
    own_estate = estate is None
    own_slack = slack is None
    estate = estate or Estate.start(scenario, workdir=tmp_path / "lab")
    slack = slack or LocalSlack().start()
    clock = clock or TestClock()
    runtime: BotRuntime | None = None
    try:
        extra = lab_sections(slack, estate.workdir, **overrides)
        if database_url:
            extra.setdefault("store", {})["url"] = database_url
        config = estate.write_config(tmp_path / f"wsusbot-{mode}.toml", extra)
        settings = load_settings(config, env={})
        runtime = BotRuntime(settings, mode=mode, clock=clock, env={}, port=0, health_port=0)
        runtime.start()
        if mode == "http":
            slack.http_bot_url = f"http://127.0.0.1:{runtime.http_port}/slack/events"
        else:
            slack.wait_for_socket()
        yield SlackLab(estate, slack, runtime, settings, clock, config)
    finally:
        if runtime is not None:
            runtime.stop()
        if own_slack:
            slack.stop()
        if own_estate:
            estate.stop()


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def buttons(message: Any) -> list[dict[str, Any]]:
    found = []
    for block in message.blocks:
        if block.get("type") == "actions":
            found.extend(e for e in block.get("elements", []) if e.get("type") == "button")
    return found


def reason_values(reason: str) -> dict[str, Any]:
    """``view.state.values`` of a reason modal, as Slack sends it."""
    return {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}


def check_values(host: str, channel: str | None) -> dict[str, Any]:
    """``view.state.values`` of the "Check a host" modal."""
    return {
        "host": {"host_input": {"type": "plain_text_input", "value": host}},
        "channel": {
            "channel_input": {"type": "conversations_select", "selected_conversation": channel}
        },
    }


def modal_ids(slack: LocalSlack, user: str) -> set[str]:
    return {v.id for v in slack.views(user) if v.kind == "modal"}


def new_modal(
    slack: LocalSlack, user: str, callback_id: str, before: set[str], timeout: float = 10.0
) -> Any:
    """The modal the bot opened for `user` (callback_id) since `before` was taken."""

    def find() -> Any:
        for view in slack.views(user):
            if (
                view.kind == "modal"
                and view.id not in before
                and not view.closed
                and view.view.get("callback_id") == callback_id
            ):
                return view
        return None

    return slack.wait_for(find, timeout=timeout, description=f"modal {callback_id} for {user}")


def through_modal(
    slack: LocalSlack,
    user: str,
    open_it: Any,
    callback_id: str,
    values: dict[str, Any],
) -> Any:
    """Click what opens a modal (``open_it()`` returns the delivery), then submit it with
    ``values``; returns the submission's delivery once acked."""
    before = modal_ids(slack, user)
    open_it().wait_ack(5)
    modal = new_modal(slack, user, callback_id, before)
    delivery = slack.submit_view(user, modal.id, values)
    delivery.wait_ack(5)
    return delivery


def click(lab: SlackLab, user: str, message: Any, action: str, **kwargs: Any) -> Any:
    """``user`` clicks the button ``action`` of ``message`` in CHANNEL."""
    return lab.slack.click_button(user, CHANNEL, message.ts, action, **kwargs)


def refusal_for(lab: SlackLab, delivery: Any, timeout: float = 10.0) -> str:
    """The text of the ephemeral answer to a click (a refusal)."""
    posts = lab.slack.wait_for(
        lambda: lab.slack.responses(delivery.id) or None,
        timeout=timeout,
        description="ephemeral refusal",
    )
    return str(posts[-1].body.get("text"))


def fix_runs(lab: SlackLab, host: str, probe: str) -> int:
    """How many times the lab host ran a fix probe."""
    return lab.estate.host(host).probe_counts().get(probe, 0)


def actions(lab: SlackLab) -> list[str]:
    """The audit trail's actions, oldest first."""
    from bot.store.audit import AuditLog

    assert lab.runtime.ctx is not None
    return [r.action for r in AuditLog(lab.runtime.ctx.services.db).query()]
