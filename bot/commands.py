"""Parse what a user typed after ``/wsus`` into a typed command, or say what is allowed.

Pure: no Slack, no I/O. Every refusal is a :class:`UsageError` whose text is shown to the
user as is, so it says what was wrong and what to type instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.inventory import validate_host_argument
from checks.errors import UsageError

MAX_TEXT = 500

Verb = Literal["check", "help", "history", "checks", "digest", "fix"]

_FIX_ID = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+", re.ASCII)
_GROUP = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class SlashCommand:
    verb: Verb
    host: str | None = None
    #: ``fix``: the fix id and the inventory group it runs on
    fix: str | None = None
    group: str | None = None


USAGE = (
    "`/wsus check <host>` run every check on a host · "
    "`/wsus history <host>` its last checks · "
    "`/wsus checks` the catalogue · "
    "`/wsus digest` post the stalled self-update digest here · "
    "`/wsus fix <fix-id> group <name>` one approval for a fix on a group's hosts · "
    "`/wsus help`"
)


def _shown(text: str) -> str:
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    clean = clean.replace("`", "'")
    return clean if len(clean) <= 40 else clean[:37] + "..."


def parse(text: str | None) -> SlashCommand:
    raw = text or ""
    if len(raw) > MAX_TEXT:
        raise UsageError(f"that command is {len(raw)} characters long; commands are short. {USAGE}")
    words = raw.split()
    if not words:
        return SlashCommand("help")
    verb, args = words[0].lower(), words[1:]
    if verb in ("help", "-h", "--help", "?"):
        return SlashCommand("help")
    if verb in ("checks", "catalogue", "catalog"):
        _no_args(verb, args)
        return SlashCommand("checks")
    if verb == "digest":
        _no_args(verb, args)
        return SlashCommand("digest")
    if verb in ("check", "history"):
        if len(args) != 1:
            raise UsageError(f"`/wsus {verb}` takes exactly one host, e.g. `/wsus {verb} wsus01`")
        host = validate_host_argument(args[0])
        return SlashCommand("check" if verb == "check" else "history", host)
    if verb == "fix":
        return _fix(args)
    raise UsageError(f"unknown sub-command `{_shown(verb)}`. {USAGE}")


def _fix(args: list[str]) -> SlashCommand:
    example = "e.g. `/wsus fix client.reset_au_state group lab`"
    if len(args) != 3 or args[1].lower() != "group":
        raise UsageError(f"`/wsus fix` takes a fix id, `group` and a group name, {example}")
    fix, group = args[0].lower(), args[2]
    if not _FIX_ID.fullmatch(fix):
        raise UsageError(f"`{_shown(args[0])}` is not a fix id (see `/wsus checks`), {example}")
    if not _GROUP.fullmatch(group):
        raise UsageError(
            f"`{_shown(group)}` is not a group name (letters, digits, '-', '_', '.'), {example}"
        )
    return SlashCommand("fix", fix=fix, group=group)


def _no_args(verb: str, args: list[str]) -> None:
    if args:
        raise UsageError(f"`/wsus {verb}` takes no arguments (got `{_shown(' '.join(args))}`)")
