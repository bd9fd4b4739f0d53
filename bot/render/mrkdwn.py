"""Slack mrkdwn as terminal styling (rich ``Text``), for the demo and the lab's console.

The syntax is Slack's (https://api.slack.com/reference/surfaces/formatting): ``*bold*``,
``_italic_``, ``~strike~``, `` `code` ``, ```` ```preformatted``` ````, ``<url|text>``,
``<@U…>`` / ``<#C…|name>`` / ``<!here>`` mentions, ``>`` quoted lines, and the three
escapes ``&amp; &lt; &gt;`` (a literal ``<`` in mrkdwn is always ``&lt;``, so a raw ``<``
opens a link or a mention). Markers only count at word edges, as in Slack:
``snake_case_name`` stays as it is.
"""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

_INLINE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|<(?P<target>[^>|\n]+)(?:\|(?P<label>[^>\n]*))?>"
    r"|(?<![\w*])\*(?P<bold>[^*\n]+?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\n]+?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\n]+?)~(?![\w~])"
)
_QUOTE = re.compile(r"^(?:&gt;|>) ?")

CODE_STYLE = "bold cyan"
QUOTE_BAR = "▌ "


def unescape(text: str) -> str:
    # &amp; last: "&amp;lt;" is the text "&lt;", not "<"
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _target(target: str, label: str | None) -> Text:
    if target.startswith("@"):
        return Text("@" + (label or target[1:]), style="bold blue")
    if target.startswith("#"):
        return Text("#" + (label or target[1:]), style="bold blue")
    if target.startswith("!"):
        name = label or target[1:].split("^", 1)[0]
        return Text("@" + name.lstrip("@"), style="bold blue")
    url = unescape(target)
    shown = unescape(label) if label else url
    text = Text()
    text.append(shown, style=Style(underline=True, link=url))
    if label and unescape(label) != url:
        text.append(f" <{url}>", style="dim")
    return text


def inline(source: str, base: Style | str = "") -> Text:
    """One line (or a run of lines without ``` blocks) of mrkdwn as styled text."""
    out = Text(style=base)
    position = 0
    for match in _INLINE.finditer(source):
        if match.start() > position:
            out.append(unescape(source[position : match.start()]))
        if match.group("code") is not None:
            out.append(unescape(match.group("code")), style=CODE_STYLE)
        elif match.group("target") is not None:
            out.append_text(_target(match.group("target"), match.group("label")))
        else:
            for group, style in (("bold", "bold"), ("italic", "italic"), ("strike", "strike")):
                inner = match.group(group)
                if inner is not None:
                    styled = inline(inner)
                    styled.stylize(style)
                    out.append_text(styled)
                    break
        position = match.end()
    if position < len(source):
        out.append(unescape(source[position:]))
    return out


def to_text(source: str) -> Text:
    """A whole mrkdwn string: ``` blocks verbatim, ``>`` lines as a quote bar."""
    out = Text()
    for index, chunk in enumerate(source.split("```")):
        if index % 2 == 1:
            out.append(unescape(chunk.strip("\n")), style=CODE_STYLE)
            continue
        lines = chunk.split("\n")
        for number, line in enumerate(lines):
            if number:
                out.append("\n")
            quote = _QUOTE.match(line)
            if quote:
                out.append(QUOTE_BAR, style="dim")
                out.append_text(inline(line[quote.end() :], base="italic"))
            else:
                out.append_text(inline(line))
    return out
