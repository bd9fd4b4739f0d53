"""Error text the way Windows PowerShell writes it to a redirected stderr (CLIXML)."""

from __future__ import annotations

from xml.sax.saxutils import escape

CLIXML_PREFIX = b"#< CLIXML\r\n"
_POWERSHELL_NAMESPACE = "http://schemas.microsoft.com/powershell/2004/04"
_CRLF = "_x000D__x000A_"


def _encode_text(text: str) -> str:
    # PowerShell serialises control characters as _xHHHH_; CR LF ends every error line.
    encoded = []
    for char in text:
        if char == "\t" or ord(char) >= 0x20:
            encoded.append(char)
        else:
            encoded.append(f"_x{ord(char):04X}_")
    return escape("".join(encoded))


def is_clixml(stderr: bytes) -> bool:
    return stderr.startswith(CLIXML_PREFIX)


def clixml_error(message: str) -> bytes:
    """``message`` as a CLIXML error stream: one ``<S S="Error">`` element per line."""
    lines = message.replace("\r\n", "\n").split("\n")
    elements = "".join(f'<S S="Error">{_encode_text(line)}{_CRLF}</S>' for line in lines)
    body = f'<Objs Version="1.1.0.1" xmlns="{_POWERSHELL_NAMESPACE}">{elements}</Objs>'
    return CLIXML_PREFIX + body.encode("utf-8")
