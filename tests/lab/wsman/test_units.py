"""Pure pieces of the endpoint: command-line decoding, durations, envelopes, CLIXML."""

from __future__ import annotations

import base64
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import winrm
import xmltodict  # type: ignore[import-untyped]
from cryptography import x509
from winrm.protocol import Protocol

from lab.wsman import clixml_error, generate_tls_files, write_ntlm_user_file
from lab.wsman.auth import NTLM_USER_FILE_ENV
from lab.wsman.commandline import decode_powershell_script, split_command_line
from lab.wsman.faults import INVALID_SOAP_BODY, INVALID_TIMEOUT_HEADER, Faults, WsmanFault
from lab.wsman.soap import (
    ACTION_RECEIVE,
    NS_SOAP,
    NS_WSMAN_FAULT,
    fault_response,
    parse_duration_seconds,
    parse_request,
)


def _encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


@pytest.mark.parametrize(
    "template",
    [
        "powershell -encodedcommand {}",
        "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {}",
        "PowerShell -enc {}",
        "powershell -e {}",
        "powershell -ec {}",
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe /EncodedCommand {}",
        '"powershell.exe" -ENCODEDCOMMAND {}',
    ],
)
def test_encoded_command_spellings_are_decoded(template: str) -> None:
    script = "# wsusbot-probe: stager v1\n$x = 'é€'"
    assert decode_powershell_script(template.format(_encoded(script))) == script


@pytest.mark.parametrize(
    "command_line",
    [
        "ipconfig /all",
        "cmd /c dir",
        "powershell -Command Get-Date",
        "powershell -ExecutionPolicy Bypass",
        "powershell -EncodedCommand",
        "powershell -EncodedCommand not*base64",
        "powershell -EncodedCommand " + base64.b64encode(b"\x00\xd8").decode(),
        "",
    ],
)
def test_other_command_lines_are_not_scripts(command_line: str) -> None:
    assert decode_powershell_script(command_line) is None


def test_split_command_line_keeps_quoted_spaces() -> None:
    assert split_command_line('cmd /c "echo a  b" ""') == ["cmd", "/c", "echo a  b", ""]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT20S", 20.0), ("PT2.5S", 2.5), ("PT1M30S", 90.0), ("P1DT1H", 90000.0), ("PT0S", 0.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["20", "PT", "P", "PTS", "-PT1S", "PT1.S"])
def test_bad_durations_are_faults(text: str) -> None:
    with pytest.raises(WsmanFault) as raised:
        parse_duration_seconds(text)
    assert raised.value.wsman_code == INVALID_TIMEOUT_HEADER


def _receive_envelope(operation_timeout: str = "PT7S") -> bytes:
    protocol = Protocol("http://127.0.0.1:1/wsman", username="u", password="p")
    protocol.operation_timeout_sec = 7
    header = protocol.build_wsman_header(
        action=ACTION_RECEIVE,
        resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
        shell_id="SHELL-1",
        message_id="11111111-2222-3333-4444-555555555555",
    )
    header["env:Header"]["w:OperationTimeout"] = operation_timeout
    request = {"env:Envelope": header}
    request["env:Envelope"]["env:Body"] = {
        "rsp:Receive": {"rsp:DesiredStream": {"@CommandId": "CMD-1", "#text": "stdout stderr"}}
    }
    return str(xmltodict.unparse(request)).encode()


def test_parse_request_reads_pywinrm_headers() -> None:
    request = parse_request(_receive_envelope("PT2.5S"))
    assert request.action == ACTION_RECEIVE
    assert request.short_action == "Receive"
    assert request.message_id == "uuid:11111111-2222-3333-4444-555555555555"
    assert request.shell_id == "SHELL-1"
    assert request.operation_timeout_s == 2.5
    assert request.max_envelope_size == 153600


@pytest.mark.parametrize(
    "body",
    [
        b"<not xml",
        b"",
        b"<root/>",
        f'<s:Envelope xmlns:s="{NS_SOAP}"><s:Body/></s:Envelope>'.encode(),
        f'<s:Envelope xmlns:s="{NS_SOAP}"><s:Header/><s:Body/></s:Envelope>'.encode(),
    ],
)
def test_unusable_requests_are_schema_faults(body: bytes) -> None:
    with pytest.raises(WsmanFault) as raised:
        parse_request(body)
    assert raised.value.wsman_code == INVALID_SOAP_BODY


def test_fault_envelope_has_the_wsman_fault_code_pywinrm_reads() -> None:
    envelope = fault_response(WsmanFault(1234, "bad <thing> & more"), "uuid:abc", "host-1")
    root = ET.fromstring(envelope)
    namespaces = {"s": NS_SOAP, "f": NS_WSMAN_FAULT}
    detail = root.find("s:Body/s:Fault/s:Detail/f:WSManFault", namespaces)
    assert detail is not None
    assert detail.get("Code") == "1234"
    assert root.findtext("s:Body/s:Fault/s:Reason/s:Text", namespaces=namespaces) == (
        "bad <thing> & more"
    )
    relates_to = next(node for node in root.iter() if node.tag.endswith("RelatesTo"))
    assert relates_to.text == "uuid:abc"


def test_clixml_errors_are_cleaned_by_pywinrm() -> None:
    session = winrm.Session("http://127.0.0.1:1/wsman", auth=("u", "p"))
    stream = clixml_error("Cannot find path 'C:\\x' <because> & so\nsecond line")
    assert stream.startswith(b"#< CLIXML\r\n")
    assert session._clean_error_msg(stream) == (
        b"Cannot find path 'C:\\x' <because> & so\nsecond line"
    )


def test_fault_settings_change_and_notify() -> None:
    faults = Faults()
    seen: list[bool] = []
    faults.on_refuse_change(seen.append)
    faults.refuse = True
    faults.refuse = True
    faults.latency_ms = 5
    faults.fault_500 = True
    snapshot = faults.snapshot()
    assert (snapshot.refuse, snapshot.latency_ms, snapshot.fault_500) == (True, 5.0, True)
    faults.clear()
    assert faults.snapshot() == type(snapshot)()
    assert seen == [True, False]
    with pytest.raises(ValueError, match="negative"):
        faults.latency_ms = -1


def test_ntlm_user_file_lines_and_permissions(tmp_path: Path) -> None:
    path = write_ntlm_user_file(
        tmp_path / "users", {"LAB\\alice": "password", "bob": "col:on and spaces"}
    )
    alice, bob = path.read_text().splitlines()
    # smbpasswd lines; the well-known LM and NT hashes of "password" (MS-NLMP 3.3.1)
    assert alice == (
        "LAB\\alice:1000:E52CAC67419A9A224A3B108F3FA6CB6D:8846F7EAEE8FB117AD06BDD830B7586C"
        ":[U]:LCT-00000000"
    )
    assert bob.startswith("bob:1000:")
    assert "col:on" not in path.read_text(), "the file holds hashes, never a password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_ntlm_user_file_account_logs_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import spnego

    path = write_ntlm_user_file(tmp_path / "users", {"LAB\\alice": "col:on pw"})
    monkeypatch.setenv(NTLM_USER_FILE_ENV, str(path))
    initiator = spnego.client("LAB\\alice", "col:on pw", protocol="ntlm")
    acceptor = spnego.server(protocol="ntlm")
    challenge = acceptor.step(initiator.step())
    acceptor.step(initiator.step(challenge))
    assert acceptor.complete
    assert str(acceptor.client_principal) == "LAB\\alice"


@pytest.mark.parametrize(
    "users",
    [
        {"LAB\\a:b": "x"},
        {"": "x"},
        {"LAB\\": "x"},
        {"LAB\\a": "two\nlines"},
    ],
)
def test_ntlm_user_file_rejects_unusable_entries(tmp_path: Path, users: dict[str, str]) -> None:
    with pytest.raises(ValueError) as raised:
        write_ntlm_user_file(tmp_path / "users", users)
    password = next(iter(users.values()))
    assert password == "x" or password not in str(raised.value)


def test_server_certificate_names_the_given_addresses(tmp_path: Path) -> None:
    files = generate_tls_files(tmp_path, addresses=["127.0.0.5"], hostnames=["wsus01.lab"])
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", "wsus01.lab"}
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1",
        "127.0.0.5",
    }
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
