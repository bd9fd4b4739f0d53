"""Build the Bolt app: an injected WebClient (configurable base URL), handlers registered
by each ``handlers/<kind>`` module's ``register``."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.auth import Authorizer
from bot.config import Settings
from bot.observability.logs import ContextExecutor
from bot.secrets import Secret
from bot.services import Services
from bot.slack.chat import SlackChat
from bot.slack.listeners import (
    actions,
    batch,
    commands,
    digest,
    home,
    modals,
    shortcut,
    unknown,
)
from bot.slack.observe import MeteredWebClient, ObservedApp
from bot.usecases.context import BotContext
from bot.worker import Worker

log = logging.getLogger(__name__)

#: ``unknown`` last: it acks any click the others do not match
LISTENER_MODULES = (commands, actions, home, modals, shortcut, digest, batch, unknown)


def build_web_client(settings: Settings, token: Secret) -> WebClient:
    # Web API errors are counted (wsusbot_slack_api_errors_total) once the context exists
    client = MeteredWebClient(token=token.reveal(), base_url=settings.slack.api_url, timeout=15)
    # Slack's 429 carries Retry-After; the SDK handler waits for it, up to three times
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    if not any(isinstance(h, ConnectionErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=2))
    return client


def tokenless_web_client(settings: Settings) -> WebClient:
    """For dry runs: a client that no workspace accepts a call from."""
    return WebClient(base_url=settings.slack.api_url)


def group_lookup(client: WebClient) -> Callable[[str], list[str]]:
    def members(group_id: str) -> list[str]:
        response = client.usergroups_users_list(usergroup=group_id)
        users: list[object] = response.get("users", [])
        return [str(u) for u in users]

    return members


def build_context(services: Services, client: WebClient) -> BotContext:
    settings = services.settings
    authorizer = Authorizer(settings.roles, settings.slack, group_lookup(client))
    if isinstance(client, MeteredWebClient):
        client.metrics = services.metrics
    return BotContext(
        services=services, chat=SlackChat(client), authorizer=authorizer, worker=Worker()
    )


def build_app(ctx: BotContext, client: WebClient, *, signing_secret: Secret | None) -> App:
    app = ObservedApp(
        client=client,
        signing_secret=signing_secret.reveal() if signing_secret else None,
        request_verification_enabled=signing_secret is not None,
        token_verification_enabled=True,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("wsusbot.bolt"),
        # listeners run in the request's contextvars: its correlation id in their logs
        listener_executor=ContextExecutor(max_workers=10, thread_name_prefix="wsusbot-bolt"),
    )
    app.metrics = ctx.services.metrics
    for module in LISTENER_MODULES:
        module.register(app, ctx)
    return app
