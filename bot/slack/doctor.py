"""What ``wsusbot doctor`` asks Slack: does the token work (``auth.test``), and is the bot
a member of every channel it posts to (``conversations.info``, ``channel.is_member``).

https://api.slack.com/methods/auth.test, https://api.slack.com/methods/conversations.info
(``is_member`` is in the channel object it returns for the calling user, here the bot).
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.secrets import read_secret
from bot.slack.app import build_web_client
from checks.errors import WsusbotError

#: (item, ok, detail) as the doctor prints it
Line = tuple[str, bool, str]

#: auth.test's error words a wrong token gives, and what to do about each
_TOKEN_HINTS = {
    "invalid_auth": "the bot token is not valid for this workspace (copy the Bot User "
    "OAuth Token, xoxb-..., from the app's OAuth & Permissions page)",
    "not_authed": "no token was sent",
    "token_revoked": "the token was revoked: reinstall the app and use the new token",
    "token_expired": "the token expired (token rotation is on): issue a new one",
    "account_inactive": "the app was uninstalled or its user deactivated: reinstall it",
}


def _channels(settings: Settings) -> dict[str, str]:
    channels: dict[str, str] = {}
    for digest in settings.digests:
        channels.setdefault(digest.channel, f"digest {digest.id}")
    if settings.slack.audit_channel:
        channels.setdefault(settings.slack.audit_channel, "audit channel")
    for channel in settings.slack.channels:
        channels.setdefault(channel, "allowed channel")
    return channels


def slack_lines(settings: Settings) -> list[Line]:
    channels = _channels(settings)
    try:
        token = read_secret(
            "SLACK_BOT_TOKEN",
            "Slack bot token",
            file_from_config=settings.slack.bot_token_file,
            required=False,
        )
    except WsusbotError as exc:
        return [("slack token", False, str(exc))]
    if token is None:
        if channels:
            return [
                (
                    "slack token",
                    False,
                    "no Slack bot token (set SLACK_BOT_TOKEN, SLACK_BOT_TOKEN_FILE or "
                    "[slack] bot_token_file), but the config posts to Slack",
                )
            ]
        return [("slack", True, "not configured: CLI use only")]
    if not token.reveal().startswith("xox"):
        return [("slack token", False, "the bot token does not look like one (xoxb-...)")]
    client = build_web_client(settings, token)
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        hint = _TOKEN_HINTS.get(error)
        return [("slack token", False, f"auth.test: {error}" + (f": {hint}" if hint else ""))]
    except (SlackClientError, OSError) as exc:
        return [
            ("slack token", False, f"cannot reach {settings.slack.api_url}: {type(exc).__name__}")
        ]
    lines: list[Line] = [("slack token", True, f"{auth.get('user')} in {auth.get('team')}")]
    for channel, use in channels.items():
        item = f"channel {channel} ({use})"
        try:
            info = client.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = exc.response.get("error")
            hint = ": the channel id is wrong or private" if error == "channel_not_found" else ""
            lines.append((item, False, f"conversations.info: {error}{hint}"))
            continue
        except (SlackClientError, OSError) as exc:
            lines.append((item, False, f"conversations.info failed: {type(exc).__name__}"))
            continue
        data = info.get("channel") or {}
        if data.get("is_member"):
            lines.append((item, True, f"member of #{data.get('name', channel)}"))
        else:
            lines.append((item, False, "the bot is not a member: invite it with /invite @wsusbot"))
    return lines
