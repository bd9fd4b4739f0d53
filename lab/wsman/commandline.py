"""Recognise ``powershell -EncodedCommand <base64 UTF-16LE>`` in a WinRM command line."""

from __future__ import annotations

import base64
import binascii
import re

_POWERSHELL_EXECUTABLES = frozenset({"powershell", "powershell.exe", "pwsh", "pwsh.exe"})
_ENCODED_COMMAND = "encodedcommand"
# PowerShell accepts any unambiguous prefix of a parameter name; "-e" and "-ec" are the
# documented aliases, and from three letters on ("-enc") the prefix is unambiguous.
_SHORT_ALIASES = frozenset({"e", "ec"})


def join_command_line(command: str, arguments: list[str]) -> str:
    """The command line a Windows shell would see: the command, then each argument."""
    return " ".join([command.strip(), *(argument.strip() for argument in arguments)]).strip()


#: a token: runs of non-space characters and "quoted" parts (a quote left open runs to
#: the end); whitespace inside quotes belongs to the token
_TOKEN = re.compile(r'(?:[^\s"]+|"[^"]*(?:"|\Z))+')


def split_command_line(command_line: str) -> list[str]:
    """Split on whitespace outside double quotes, dropping the quotes (enough for the
    command lines WinRM clients build; full CommandLineToArgvW rules are not needed).

    One regular expression, not a loop per character: a baseline's 50 KB
    ``-EncodedCommand`` line cost the lab a third of its CPU, which Windows does not."""
    return [token.replace('"', "") for token in _TOKEN.findall(command_line)]


def _is_encoded_command_switch(token: str) -> bool:
    if len(token) < 2 or token[0] not in "-/":
        return False
    name = token[1:].lower()
    return name in _SHORT_ALIASES or (len(name) >= 3 and _ENCODED_COMMAND.startswith(name))


def _executable_name(token: str) -> str:
    return token.replace("/", "\\").rsplit("\\", 1)[-1].lower()


def decode_powershell_script(command_line: str) -> str | None:
    """The script text of a ``powershell ... -EncodedCommand <b64>`` command line, or None
    when the command is not PowerShell with a decodable encoded command."""
    tokens = split_command_line(command_line)
    if not tokens or _executable_name(tokens[0]) not in _POWERSHELL_EXECUTABLES:
        return None
    for index, token in enumerate(tokens[1:-1], start=1):
        if _is_encoded_command_switch(token):
            try:
                raw = base64.b64decode(tokens[index + 1], validate=True)
                return raw.decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None
