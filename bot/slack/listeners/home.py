"""The App Home tab: drawn when opened; its "Check a host" and "Check" buttons open the
check modal (approval buttons on it are handled with the cards' in ``actions``)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.chat import ChatError
from bot.slack import ids
from bot.slack.listeners.payloads import clicked
from bot.usecases.context import BotContext
from bot.usecases.home import check_prompt, publish_home
from bot.views import Refusal

log = logging.getLogger(__name__)


def register(app: App, ctx: BotContext) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        publish_home(ctx, str(event.get("user", "")))

    @app.action(ids.HOME_CHECK_HOST)
    @app.action(ids.HOME_CHECK)
    def check_button(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        click = clicked(body)
        prompt = check_prompt(ctx, click.user, click.value or None)
        if isinstance(prompt, Refusal):
            publish_home(ctx, click.user, notice=prompt.text)
            return
        try:
            ctx.chat.open_modal(click.trigger_id, prompt)
        except ChatError as exc:
            log.warning("views.open for the check modal failed: %s", exc.code)
            publish_home(ctx, click.user, notice=f"Slack did not open the form ({exc.code})")
