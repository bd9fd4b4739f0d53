"""Recognise ``powershell -EncodedCommand <base64 UTF-16LE>`` in a WinRM command line."""

from __future__ import annotations

import base64
import binascii

_POWERSHELL_EXECUTABLES = frozenset({"powershell", "powershell.exe", "pwsh", "pwsh.exe"})
_ENCODED_COMMAND = "encodedcommand"
# PowerShell accepts any unambiguous prefix of a parameter name; "-e" and "-ec" are the
# documented aliases, and from three letters on ("-enc") the prefix is unambiguous.
_SHORT_ALIASES = frozenset({"e", "ec"})


def join_command_line(command: str, arguments: list[str]) -> str:
    """The command line a Windows shell would see: the command, then each argument."""
    return " ".join([command.strip(), *(argument.strip() for argument in arguments)]).strip()


def split_command_line(command_line: str) -> list[str]:
    """Split on whitespace outside double quotes, dropping the quotes (enough for the
    command lines WinRM clients build; full CommandLineToArgvW rules are not needed)."""
    tokens: list[str] = []
    current: list[str] = []
    in_quotes = False
    has_token = False
    for char in command_line:
        if char == '"':
            in_quotes = not in_quotes
            has_token = True
        elif char.isspace() and not in_quotes:
            if has_token:
                tokens.append("".join(current))
                current = []
                has_token = False
        else:
            current.append(char)
            has_token = True
    if has_token:
        tokens.append("".join(current))
    return tokens


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
