"""The App Home tab: the latest verdict per host."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.usecases.check import publish_home
from bot.usecases.context import BotContext


def register(app: App, ctx: BotContext) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        publish_home(ctx, str(event.get("user", "")))
