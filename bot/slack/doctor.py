"""What ``wsusbot doctor`` asks Slack: does the token work, is the bot in its channels."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.secrets import read_secret
from bot.slack.app import build_web_client
from checks.errors import WsusbotError

#: (item, ok, detail) as the doctor prints it
Line = tuple[str, bool, str]


def slack_lines(settings: Settings) -> list[Line]:
    try:
        token = read_secret(
            "SLACK_BOT_TOKEN", "Slack bot token", file_from_config=settings.slack.bot_token_file
        )
        assert token is not None
        client = build_web_client(settings, token)
    except WsusbotError as exc:
        return [("slack token", False, str(exc))]
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        return [("slack token", False, f"auth.test: {exc.response.get('error')}")]
    except (SlackClientError, OSError) as exc:
        return [("slack token", False, f"cannot reach {settings.slack.api_url}: {exc}")]
    lines: list[Line] = [("slack token", True, f"{auth.get('user')} in {auth.get('team')}")]
    channels: dict[str, str] = {}
    for digest in settings.digests:
        channels.setdefault(digest.channel, f"digest {digest.id}")
    if settings.slack.audit_channel:
        channels.setdefault(settings.slack.audit_channel, "audit channel")
    for channel, use in channels.items():
        item = f"channel {channel} ({use})"
        try:
            info = client.conversations_info(channel=channel)
        except SlackApiError as exc:
            lines.append((item, False, f"conversations.info: {exc.response.get('error')}"))
            continue
        data = info.get("channel") or {}
        if data.get("is_member"):
            lines.append((item, True, f"member of #{data.get('name', channel)}"))
        else:
            lines.append((item, False, "the bot is not a member: invite it with /invite @wsusbot"))
    return lines
