"""The lean client's shell sequence against a scripted channel: the paths a lab host does
not take on its own (a Send answered with a timeout fault, a host that answers every
Receive empty at once, a UTF-16 answer with a DTD). The wire itself is tested against the
lab in tests/integration/test_wsman_client.py."""

from __future__ import annotations

import re
import time

import pytest

from checks.errors import CollectionTimeoutError, RemoteError
from handlers.wsman import envelopes
from handlers.wsman.channel import Answer
from handlers.wsman.envelopes import Envelopes, MalformedAnswer
from handlers.wsman.shell import MIN_EMPTY_POLL_S, RemoteShell

SOAP = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault">'
    "<s:Header/><s:Body>{}</s:Body></s:Envelope>"
)
CREATED = SOAP.format(
    '<w:SelectorSet><w:Selector Name="ShellId">S1</w:Selector></w:SelectorSet>'
).encode()
COMMAND = SOAP.format(
    "<rsp:CommandResponse><rsp:CommandId>C1</rsp:CommandId></rsp:CommandResponse>"
).encode()
EMPTY = SOAP.format("").encode()
RUNNING = SOAP.format(
    '<rsp:ReceiveResponse><rsp:CommandState CommandId="C1" '
    'State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"/>'
    "</rsp:ReceiveResponse>"
).encode()
TIMED_OUT = SOAP.format(
    "<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text>"
    "The WS-Management service cannot complete the operation within the time specified "
    "in OperationTimeout.</s:Text></s:Reason><s:Detail>"
    '<f:WSManFault Code="2150858793"/></s:Detail></s:Fault>'
).encode()


class ScriptedChannel:
    """Answers each message by its action, from a script; records what was sent."""

    encrypted = True

    def __init__(self, answers: dict[str, bytes]) -> None:
        self.answers = answers
        self.sent: list[bytes] = []
        self.closed = False

    def open(self, first_message: bytes | None = None) -> Answer | None:
        return None

    def post(self, message: bytes, deadline: float | None = None) -> Answer:
        self.sent.append(message)
        action = re.search(rb"<a:Action[^>]*>[^<]*/([A-Za-z]+)</a:Action>", message)
        assert action is not None
        body = self.answers[action.group(1).decode()]
        return Answer(500 if b"<s:Fault>" in body else 200, body)

    def close(self) -> None:
        self.closed = True

    def actions(self) -> list[str]:
        found = (re.search(rb"/([A-Za-z]+)</a:Action>", m) for m in self.sent)
        return [match.group(1).decode() for match in found if match]


def shell(channel: ScriptedChannel) -> RemoteShell:
    remote = RemoteShell("h1", channel, Envelopes("http://h1:5985/wsman", 20))  # type: ignore[arg-type]
    remote.open()
    return remote


def test_a_timeout_fault_outside_receive_is_a_remote_error_after_delivery() -> None:
    channel = ScriptedChannel({"Create": CREATED, "Command": COMMAND, "Send": TIMED_OUT})
    remote = shell(channel)
    with pytest.raises(RemoteError, match="2150858793") as caught:
        remote.run("powershell", b"script", time.monotonic() + 10)
    assert caught.value.delivered, "the host had taken the command"
    assert channel.actions() == ["Create", "Command", "Send"]


def test_a_host_answering_every_receive_at_once_is_paced_and_the_deadline_holds() -> None:
    channel = ScriptedChannel(
        {"Create": CREATED, "Command": COMMAND, "Send": EMPTY, "Receive": RUNNING}
    )
    remote = shell(channel)
    started = time.monotonic()
    with pytest.raises(CollectionTimeoutError):
        remote.run("powershell", b"script", started + 1.0)
    elapsed = time.monotonic() - started
    receives = channel.actions().count("Receive")
    assert elapsed < 2.0
    # at most one Receive per MIN_EMPTY_POLL_S: paced, not spinning
    assert 1 <= receives <= 1.0 / MIN_EMPTY_POLL_S + 2
    # past the deadline no Signal: the Delete at close() ends the command
    assert "Signal" not in channel.actions()
    remote.close()
    assert channel.actions()[-1] == "Delete"
    assert channel.closed


def test_a_receive_near_the_deadline_asks_for_a_shorter_wait() -> None:
    channel = ScriptedChannel(
        {"Create": CREATED, "Command": COMMAND, "Send": EMPTY, "Receive": TIMED_OUT}
    )
    remote = shell(channel)
    with pytest.raises(CollectionTimeoutError):
        remote.run("powershell", b"script", time.monotonic() + 3.0)
    receive_timeouts = [
        int(found.group(1))
        for message in channel.sent
        if b"shell/Receive</a:Action>" in message
        and (found := re.search(rb"<w:OperationTimeout>PT(\d+)S<", message))
    ]
    assert receive_timeouts
    assert max(receive_timeouts) <= 3, "never the session's 20 s that would outlast the deadline"


@pytest.mark.parametrize(
    "answer",
    [
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'.encode(
            "utf-16"
        ),
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;&a;</x>',
        SOAP.format(
            '<rsp:ReceiveResponse><rsp:Stream Name="stdout" CommandId="C1">@@not base64@@'
            "</rsp:Stream></rsp:ReceiveResponse>"
        ).encode(),
    ],
    ids=["UTF-16 with a DTD", "a DTD", "bad base64"],
)
def test_hostile_answers_are_malformed_not_parsed(answer: bytes) -> None:
    with pytest.raises(MalformedAnswer):
        envelopes.output(answer)
