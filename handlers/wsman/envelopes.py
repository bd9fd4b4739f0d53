"""The WinRM shell messages ([MS-WSMV] 3.1.4.1 / 3.1.4.5-3.1.4.17) as byte templates, and
the few answers a check reads back (docs/probes.md, "Transport").

The header carries what pywinrm's ``Protocol.build_wsman_header`` sends, element for
element (the layout real Windows has answered for a decade of pywinrm and Ansible), with
the endpoint's own URL in ``a:To``; only the ids change between messages, so each message
is one string format instead of a dict tree run through xmltodict.
"""

from __future__ import annotations

import base64
import binascii
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_WSMAN_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = f"{NS_SHELL}/Command"
ACTION_SEND = f"{NS_SHELL}/Send"
ACTION_RECEIVE = f"{NS_SHELL}/Receive"
ACTION_SIGNAL = f"{NS_SHELL}/Signal"
SIGNAL_TERMINATE = f"{NS_SHELL}/signal/terminate"
STATE_DONE = f"{NS_SHELL}/CommandState/Done"

#: what we ask each answer to stay under. [MS-WSMV] 3.1.4.1.7: a server caps a larger value
#: at its MaxEnvelopeSizekb x 1,024, whose default "SHOULD be 500 but MAY be 150" (2.2.4.10),
#: so asking for 500 KB costs nothing on a 150 KB server and cuts a large output's Receive
#: round trips by 3.3x on every other one (pywinrm asks for 153,600)
MAX_ENVELOPE_SIZE = 500 * 1024

#: the WS-Management fault a Receive answers when no output came within the operation
#: timeout ([MS-WSMV] 3.1.4.14: w:TimedOut, WSManFault code 0x80338029): poll again
OPERATION_TIMED_OUT = 2150858793

_NAMESPACES = (
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xmlns:env="{NS_SOAP}" xmlns:a="{NS_ADDRESSING}" '
    'xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" '
    'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    f'xmlns:w="{NS_WSMAN}" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd" '
    f'xmlns:rsp="{NS_SHELL}" '
    'xmlns:cfg="http://schemas.microsoft.com/wbem/wsman/1/config"'
)


@dataclass(frozen=True, slots=True)
class Output:
    """One Receive answer: the bytes of each stream, and the exit code once done."""

    stdout: bytes
    stderr: bytes
    #: None while the command runs
    exit_code: int | None


@dataclass(frozen=True, slots=True)
class Fault:
    """A SOAP fault's parts that name what went wrong (never the request)."""

    code: str | None
    wsman_code: int | None
    reason: str


class MalformedAnswer(ValueError):
    """The answer is not the WS-Management XML the request calls for."""


class Envelopes:
    """The request messages for one endpoint and one operation timeout."""

    def __init__(
        self,
        endpoint: str,
        operation_timeout_s: int,
        max_envelope_size: int = MAX_ENVELOPE_SIZE,
    ) -> None:
        self._head = (
            f'<?xml version="1.0" encoding="utf-8"?>\n<env:Envelope {_NAMESPACES}>'
            f"<env:Header><a:To>{escape(endpoint)}</a:To>"
            '<a:ReplyTo><a:Address mustUnderstand="true">'
            "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
            "</a:Address></a:ReplyTo>"
            f'<w:MaxEnvelopeSize mustUnderstand="true">{int(max_envelope_size)}</w:MaxEnvelopeSize>'
            "<a:MessageID>uuid:"
        )
        self._operation_timeout_s = int(operation_timeout_s)
        self._after_id = self._after_id_for(self._operation_timeout_s)

    @staticmethod
    def _after_id_for(operation_timeout_s: int) -> str:
        return (
            '</a:MessageID><w:Locale mustUnderstand="false" xml:lang="en-US"></w:Locale>'
            '<p:DataLocale mustUnderstand="false" xml:lang="en-US"></p:DataLocale>'
            f"<w:OperationTimeout>PT{int(operation_timeout_s)}S</w:OperationTimeout>"
            f'<w:ResourceURI mustUnderstand="true">{RESOURCE_CMD}</w:ResourceURI>'
            '<a:Action mustUnderstand="true">'
        )

    def _message(
        self,
        action: str,
        shell_id: str | None,
        options: str,
        body: str,
        operation_timeout_s: int | None = None,
    ) -> bytes:
        selector = (
            f'<w:SelectorSet><w:Selector Name="ShellId">{escape(shell_id)}</w:Selector>'
            "</w:SelectorSet>"
            if shell_id is not None
            else ""
        )
        after_id = (
            self._after_id
            if operation_timeout_s is None or operation_timeout_s >= self._operation_timeout_s
            else self._after_id_for(max(1, operation_timeout_s))
        )
        return (
            f"{self._head}{uuid.uuid4()}{after_id}{action}</a:Action>{selector}{options}"
            f"</env:Header><env:Body>{body}</env:Body></env:Envelope>"
        ).encode()

    def create_shell(self, codepage: int) -> bytes:
        return self._message(
            ACTION_CREATE,
            None,
            '<w:OptionSet><w:Option Name="WINRS_NOPROFILE">FALSE</w:Option>'
            f'<w:Option Name="WINRS_CODEPAGE">{int(codepage)}</w:Option></w:OptionSet>',
            "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>",
        )

    def command(self, shell_id: str, command_line: str) -> bytes:
        return self._message(
            ACTION_COMMAND,
            shell_id,
            '<w:OptionSet><w:Option Name="WINRS_CONSOLEMODE_STDIN">TRUE</w:Option>'
            '<w:Option Name="WINRS_SKIP_CMD_SHELL">FALSE</w:Option></w:OptionSet>',
            f"<rsp:CommandLine><rsp:Command>{escape(command_line)}</rsp:Command></rsp:CommandLine>",
        )

    def send(self, shell_id: str, command_id: str, data: bytes, *, end: bool) -> bytes:
        encoded = base64.b64encode(data).decode("ascii")
        return self._message(
            ACTION_SEND,
            shell_id,
            "",
            f'<rsp:Send><rsp:Stream CommandId={quoteattr(command_id)} Name="stdin" '
            f'End="{"true" if end else "false"}">{encoded}</rsp:Stream></rsp:Send>',
        )

    def receive(
        self, shell_id: str, command_id: str, operation_timeout_s: int | None = None
    ) -> bytes:
        """``operation_timeout_s``: a shorter wait than the session's, so a Receive sent
        near the deadline does not hold the answer past it."""
        return self._message(
            ACTION_RECEIVE,
            shell_id,
            "",
            f"<rsp:Receive><rsp:DesiredStream CommandId={quoteattr(command_id)}>"
            "stdout stderr</rsp:DesiredStream></rsp:Receive>",
            operation_timeout_s,
        )

    def terminate(self, shell_id: str, command_id: str) -> bytes:
        return self._message(
            ACTION_SIGNAL,
            shell_id,
            "",
            f"<rsp:Signal CommandId={quoteattr(command_id)}>"
            f"<rsp:Code>{SIGNAL_TERMINATE}</rsp:Code></rsp:Signal>",
        )

    def delete_shell(self, shell_id: str) -> bytes:
        return self._message(ACTION_DELETE, shell_id, "", "")


def _parse(xml: bytes) -> ET.Element:
    """Expat without a DTD: WS-Management answers are UTF-8 and never carry one, so an
    answer in another encoding or with a DOCTYPE (the way in for entity expansion) is
    refused before parsing; ElementTree resolves no external entities besides."""
    if xml.startswith((b"\xfe\xff", b"\xff\xfe")) or b"\x00" in xml:
        # WinRM answers are UTF-8 (charset=UTF-8); a UTF-16 body would carry a DOCTYPE
        # past the byte check below
        raise MalformedAnswer("an answer that is not UTF-8")
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise MalformedAnswer("a DOCTYPE in an answer")
    try:
        return ET.fromstring(xml)  # noqa: S314 - no DTD reaches the parser (above)
    except ET.ParseError:
        raise MalformedAnswer("not XML") from None


def _root(xml: bytes) -> ET.Element:
    return _parse(xml)


def shell_id(xml: bytes) -> str:
    """The ShellId of a Create answer (its ResourceCreated selector, as pywinrm reads it)."""
    for selector in _root(xml).iter(f"{{{NS_WSMAN}}}Selector"):
        if selector.get("Name") == "ShellId" and (selector.text or "").strip():
            return (selector.text or "").strip()
    raise MalformedAnswer("no ShellId in the Create answer")


def command_id(xml: bytes) -> str:
    for element in _root(xml).iter(f"{{{NS_SHELL}}}CommandId"):
        if (element.text or "").strip():
            return (element.text or "").strip()
    raise MalformedAnswer("no CommandId in the Command answer")


def output(xml: bytes) -> Output:
    """The streams and command state of a ReceiveResponse ([MS-WSMV] 2.2.4.26)."""
    root = _root(xml)
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    try:
        for stream in root.iter(f"{{{NS_SHELL}}}Stream"):
            if not stream.text:
                continue
            name = stream.get("Name")
            if name == "stdout":
                stdout.append(_b64(stream.text))
            elif name == "stderr":
                stderr.append(_b64(stream.text))
    except (binascii.Error, ValueError):
        raise MalformedAnswer("a stream is not base64") from None
    exit_code: int | None = None
    for state in root.iter(f"{{{NS_SHELL}}}CommandState"):
        if state.get("State") == STATE_DONE:
            code = (state.findtext(f"{{{NS_SHELL}}}ExitCode") or "").strip()
            try:
                exit_code = int(code) if code else -1
            except ValueError:
                raise MalformedAnswer("the exit code is not a number") from None
    return Output(b"".join(stdout), b"".join(stderr), exit_code)


def _b64(text: str) -> bytes:
    """Strict base64 (a stray character is an error, not silently dropped output)."""
    return base64.b64decode("".join(text.split()), validate=True)


def fault(xml: bytes) -> Fault | None:
    """The SOAP fault in an answer (an HTTP 500's body), or None when it holds none."""
    try:
        root = _parse(xml)
    except MalformedAnswer:
        return None
    node = root.find(f"{{{NS_SOAP}}}Body/{{{NS_SOAP}}}Fault")
    if node is None:
        return None
    wsman_code: int | None = None
    detail = node.find(f"{{{NS_SOAP}}}Detail/{{{NS_WSMAN_FAULT}}}WSManFault")
    if detail is not None and (detail.get("Code") or "").isdigit():
        wsman_code = int(detail.get("Code") or "0")
    code = node.findtext(f"{{{NS_SOAP}}}Code/{{{NS_SOAP}}}Subcode/{{{NS_SOAP}}}Value")
    reason = node.findtext(f"{{{NS_SOAP}}}Reason/{{{NS_SOAP}}}Text") or ""
    if not reason and detail is not None:
        reason = "".join(detail.itertext())
    return Fault(code, wsman_code, " ".join(reason.split()))
