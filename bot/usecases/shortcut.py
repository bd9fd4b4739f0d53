"""The message shortcut "Check this host": check the one inventory host a message names.

The words of the message are looked up in the inventory (names and host patterns, as
``/wsus check`` resolves them); exactly one host must match. None, or several, is
explained to the user alone and nothing runs. The check is posted in the message's thread.
"""

from __future__ import annotations

import re

from bot.usecases.check import authorize_check, refuse, start_check
from bot.usecases.context import BotContext
from bot.views import Refusal
from checks.errors import UsageError
from handlers.target import HostTarget

#: a word that could be a host name (DNS labels and dots); Slack markup around it
#: (``*pc1*``, ``<http://pc1|pc1>``, backticks) is not part of the word
WORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
#: words looked up per message (a pasted log must not cost thousands of look-ups)
MAX_WORDS = 400
NAMES_SHOWN = 5


def hosts_named(ctx: BotContext, text: str) -> list[HostTarget]:
    """The distinct inventory hosts the text names, in the order they appear."""
    found: dict[str, HostTarget] = {}
    words = list(dict.fromkeys(WORD.findall(text[:40_000])))[:MAX_WORDS]
    for word in words:
        try:
            target = ctx.services.inventory.resolve(word)
        except UsageError:
            continue
        found.setdefault(target.name.lower(), target)
    return list(found.values())


def check_from_message(
    ctx: BotContext, *, user: str, channel: str, message_ts: str, text: str
) -> str | Refusal:
    """Returns the check's ts, or why nothing ran (audited, shown to the user alone)."""
    refusal = authorize_check(ctx, user, channel)
    if refusal is not None:
        return refusal
    hosts = hosts_named(ctx, text)
    if not hosts:
        return refuse(
            ctx,
            user,
            "this message names no host of the inventory; use `/wsus check <host>`",
        )
    if len(hosts) > 1:
        names = ", ".join(h.name for h in hosts[:NAMES_SHOWN])
        if len(hosts) > NAMES_SHOWN:
            names += f" and {len(hosts) - NAMES_SHOWN} more"
        return refuse(
            ctx,
            user,
            f"this message names {len(hosts)} hosts ({names}); "
            "use `/wsus check <host>` for the one you mean",
        )
    return start_check(ctx, user=user, channel=channel, target=hosts[0], thread_ts=message_ts)
