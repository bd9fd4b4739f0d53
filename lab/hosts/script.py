"""Recognise a probe script the way docs/probes.md defines it (never run it).

The script sits in stdin when the decoded command is the stager, else in the decoded
``-EncodedCommand`` text. Line 1 is ``# wsusbot-probe: <name> v<N>``, line 2 assigns
``$params`` from a base64 UTF-8 JSON literal.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from lab.wsman.executor import CommandRequest

STAGER_HEADER = "# wsusbot-probe: stager v1"
_HEADER = re.compile(r"^# wsusbot-probe: ([a-z0-9_]+) v(\d+)\s*$")
_PARAMS = re.compile(
    r"^\$params = \[Text\.Encoding\]::UTF8\.GetString\(\[Convert\]::FromBase64String\("
    r"'([A-Za-z0-9+/=]*)'\)\)\s*$"
)


class ScriptError(Exception):
    """The command is not a probe the host understands; the message is what PowerShell
    would print (no secrets: it only names the probe and the problem)."""


@dataclass(frozen=True)
class ProbeCall:
    name: str
    version: int
    params: dict[str, Any]


def script_text(request: CommandRequest) -> str:
    """The probe script carried by ``request`` (stdin after a stager, else the command)."""
    if request.script is None:
        raise ScriptError(
            f"The term '{request.command_line.split(' ', 1)[0][:60]}' is not recognized as "
            "the name of a cmdlet, function, script file, or operable program."
        )
    if request.script.lstrip("\ufeff").startswith(STAGER_HEADER):
        try:
            return request.stdin.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ScriptError("The script read from standard input is not UTF-8.") from None
    return request.script


def parse_probe(text: str) -> ProbeCall:
    """Header + ``$params`` line -> the probe call; ScriptError for anything else."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    header = _HEADER.match(lines[0]) if lines else None
    if header is None:
        raise ScriptError("The script has no '# wsusbot-probe: <name> v<N>' header.")
    params_line = _PARAMS.match(lines[1]) if len(lines) > 1 else None
    if params_line is None:
        raise ScriptError(
            f"Probe {header.group(1)}: line 2 is not the '$params = ...FromBase64String(...)' "
            "assignment."
        )
    try:
        decoded = base64.b64decode(params_line.group(1), validate=True).decode("utf-8")
        params = json.loads(decoded)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScriptError(
            f"Probe {header.group(1)}: $params is not base64 of UTF-8 JSON ({exc})."
        ) from None
    if not isinstance(params, dict):
        raise ScriptError(f"Probe {header.group(1)}: $params must be a JSON object.")
    return ProbeCall(header.group(1), int(header.group(2)), params)


_CLIXML_NS = "http://schemas.microsoft.com/powershell/2004/04"


def clixml_error(message: str) -> bytes:
    """An error as Windows PowerShell writes it to a redirected stderr."""
    parts = []
    for line in message.replace("\r\n", "\n").split("\n"):
        parts.append(f'<S S="Error">{escape(line)}_x000D__x000A_</S>')
    body = f'<Objs Version="1.1.0.1" xmlns="{_CLIXML_NS}">{"".join(parts)}</Objs>'
    return b"#< CLIXML\r\n" + body.encode("utf-8")
