"""The App Home tab: the latest verdict per host."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.auth import Role
from bot.flows.context import BotContext
from handlers import blocks

log = logging.getLogger(__name__)


def home_rows(ctx: BotContext) -> list[blocks.HistoryRow]:
    return [blocks.history_row(run) for run in ctx.services.runs.latest_per_host(limit=200)]


def publish_home(ctx: BotContext, client: WebClient, user: str) -> None:
    if ctx.authorizer.has(user, Role.VIEWER):
        shown = blocks.home_view_blocks(home_rows(ctx))
    else:
        shown = blocks.refusal("you need the viewer role to see host verdicts here").blocks
    view = {"type": "home", "blocks": [b.to_dict() for b in shown]}
    try:
        client.views_publish(user_id=user, view=view)
    except SlackApiError as exc:
        log.warning("views.publish for %s failed: %s", user, exc.response.get("error"))


def register(app: App, ctx: BotContext) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        publish_home(ctx, client, str(event.get("user", "")))
