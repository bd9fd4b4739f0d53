"""Stock pywinrm against the lab endpoint over real HTTP(S), NTLM and Basic."""

from __future__ import annotations

import base64
import concurrent.futures
import threading
import time
import xml.etree.ElementTree as ET

import pytest
import requests
import xmltodict  # type: ignore[import-untyped]
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError

from lab.wsman import AuthPolicy, CommandRequest, ExecResult, WsmanServer
from lab.wsman.faults import (
    INVALID_ACTION_URI,
    INVALID_SOAP_BODY,
    OPERATION_TIMED_OUT,
    PROVIDER_FAILURE,
    RESOURCE_NOT_FOUND,
    UNEXPECTED_SELECTORS,
)
from lab.wsman.soap import NS_SOAP, NS_WSMAN_FAULT
from lab.wsman.tls import TlsFiles
from tests.lab.wsman.conftest import (
    BASIC_AUTH,
    RecordingExecutor,
    ServerFactory,
    winrm_protocol,
    winrm_session,
)
from tests.wsman_support import NTLM_AUTH, NTLM_USER

STAGER = "# wsusbot-probe: stager v1\n$s = [ScriptBlock]::Create([Console]::In.ReadToEnd())\n& $s\n"


def _encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def _fault_code(body: bytes) -> int:
    namespaces = {"s": NS_SOAP, "f": NS_WSMAN_FAULT}
    detail = ET.fromstring(body).find("s:Body/s:Fault/s:Detail/f:WSManFault", namespaces)
    assert detail is not None
    return int(detail.get("Code", "0"))


def test_stager_on_the_command_line_and_probe_on_stdin(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    probe = ("# wsusbot-probe: client_facts v1\n" + "Write-Output 'x'\n" * 12000).encode()
    assert len(probe) > 200_000

    def answer(request: CommandRequest) -> ExecResult:
        return ExecResult(stdout=b'{"stdin_bytes": %d}' % len(request.stdin))

    executor.respond = answer
    protocol = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(
        shell_id,
        "powershell.exe",
        [
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-EncodedCommand",
            _encoded(STAGER),
        ],
    )
    protocol.send_command_input(shell_id, command_id, probe, end=True)
    stdout, stderr, exit_code = protocol.get_command_output(shell_id, command_id)
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id)

    assert (stdout, stderr, exit_code) == (b'{"stdin_bytes": %d}' % len(probe), b"", 0)
    [request] = executor.requests
    assert request.script == STAGER
    assert request.stdin == probe
    assert request.username == NTLM_USER
    assert request.command_line.startswith("powershell.exe -NoProfile")
    stats = server.stats()
    assert stats.requests_by_action["Send"] == 1
    assert stats.open_shells == 0
    assert stats.commands_run == 1


def test_stdin_in_several_sends_is_joined(server: WsmanServer, executor: RecordingExecutor) -> None:
    protocol = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "powershell", ["-enc", _encoded(STAGER)])
    protocol.send_command_input(shell_id, command_id, b"first ")
    protocol.send_command_input(shell_id, command_id, "second", end=True)
    protocol.get_command_output(shell_id, command_id)
    protocol.close_shell(shell_id)
    assert executor.requests[0].stdin == b"first second"


def test_run_ps_over_ntlm_with_message_encryption(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    executor.respond = lambda request: ExecResult(stdout=b"42\r\n", exit_code=3)
    result = winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("Get-Date | Out-String")
    assert (result.std_out, result.std_err, result.status_code) == (b"42\r\n", b"", 3)
    [request] = executor.requests
    assert request.script == "Get-Date | Out-String"
    assert request.stdin == b""
    assert request.username == NTLM_USER
    stats = server.stats()
    # Every SOAP request of the exchange arrived sealed.
    assert stats.encrypted_requests == stats.requests == 5
    assert stats.auth_failures == 0


def test_wrong_ntlm_password_is_invalid_credentials(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    with pytest.raises(InvalidCredentialsError):
        winrm_session(server.url, (NTLM_USER, "wrong"), "ntlm").run_ps("Get-Date")
    with pytest.raises(InvalidCredentialsError):
        winrm_session(server.url, ("LAB\\nobody", "x"), "ntlm").run_ps("Get-Date")
    assert server.stats().auth_failures == 2
    assert executor.requests == []


def test_long_command_times_out_and_pywinrm_polls_again(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    executor.respond = lambda request: ExecResult(stdout=b"done", duration_s=2.2)
    session = winrm_session(
        server.url, NTLM_AUTH, "ntlm", operation_timeout_sec=1, read_timeout_sec=3
    )
    result = session.run_ps("Start-Sleep 2")
    assert (result.std_out, result.status_code) == (b"done", 0)
    stats = server.stats()
    assert stats.operation_timeouts >= 1
    assert stats.faults_by_code[OPERATION_TIMED_OUT] == stats.operation_timeouts
    assert stats.requests_by_action["Receive"] == stats.operation_timeouts + 1
    assert stats.commands_run == 1


def test_basic_refused_when_disabled(make_server: ServerFactory) -> None:
    executor = RecordingExecutor()
    server = make_server(executor, auth=AuthPolicy(ntlm=True, basic=False))
    with pytest.raises(InvalidCredentialsError):
        winrm_session(server.url, BASIC_AUTH, "basic").run_ps("Get-Date")
    response = requests.post(server.url, data=b"", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Negotiate"
    assert executor.requests == []


def test_basic_works_when_enabled(server: WsmanServer, executor: RecordingExecutor) -> None:
    result = winrm_session(server.url, BASIC_AUTH, "basic").run_ps("hostname")
    assert result.std_out == b"ran: hostname"
    assert executor.requests[0].username == BASIC_AUTH[0]
    with pytest.raises(InvalidCredentialsError):
        winrm_session(server.url, (BASIC_AUTH[0], "wrong"), "basic").run_ps("hostname")
    assert server.stats().encrypted_requests == 0


def test_https_validates_with_the_generated_ca(
    make_server: ServerFactory, executor: RecordingExecutor, tls_files: TlsFiles
) -> None:
    server = make_server(executor, tls=tls_files)
    assert server.url.startswith("https://127.0.0.1:")
    ca = str(tls_files.ca_cert)
    basic = winrm_session(
        server.url, BASIC_AUTH, "ssl", server_cert_validation="validate", ca_trust_path=ca
    )
    assert basic.run_ps("hostname").std_out == b"ran: hostname"
    # NTLM over HTTPS: no message encryption, the body travels with each handshake leg.
    ntlm = winrm_session(
        server.url, NTLM_AUTH, "ntlm", server_cert_validation="validate", ca_trust_path=ca
    )
    assert ntlm.run_ps("whoami").std_out == b"ran: whoami"
    assert server.stats().encrypted_requests == 0
    with pytest.raises(requests.exceptions.SSLError):
        winrm_session(server.url, BASIC_AUTH, "ssl", server_cert_validation="validate").run_ps(
            "hostname"
        )


def test_fifty_concurrent_sessions(server: WsmanServer, executor: RecordingExecutor) -> None:
    def run(index: int) -> bytes:
        session = winrm_session(server.url, NTLM_AUTH, "ntlm")
        return bytes(session.run_ps(f"Write-Output {index}").std_out)

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        outputs = list(pool.map(run, range(50)))
    assert outputs == [f"ran: Write-Output {index}".encode() for index in range(50)]
    stats = server.stats()
    assert (stats.commands_run, stats.shells_created, stats.open_shells) == (50, 50, 0)


def test_plain_command_lines_reach_the_executor(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    result = winrm_session(server.url, NTLM_AUTH, "ntlm").run_cmd("ipconfig", ["/all"])
    assert result.std_out == b"ran: ipconfig /all"
    [request] = executor.requests
    assert (request.command_line, request.script) == ("ipconfig /all", None)


def test_large_output_spans_several_receives(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    big = bytes(range(256)) * 2000
    executor.respond = lambda request: ExecResult(stdout=big, stderr=b"warn")
    protocol = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd", ["/c", "type", "big.bin"])
    stdout, stderr, exit_code = protocol.get_command_output(shell_id, command_id)
    protocol.close_shell(shell_id)
    assert (stdout, stderr, exit_code) == (big, b"warn", 0)
    assert server.stats().requests_by_action["Receive"] >= 4


def test_malformed_unknown_and_missing_are_faults_and_serving_goes_on(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    soap = {"Content-Type": "application/soap+xml;charset=UTF-8"}
    for body, code in [
        (b"<not xml", INVALID_SOAP_BODY),
        (b"<Envelope/>", INVALID_SOAP_BODY),
    ]:
        response = requests.post(server.url, data=body, headers=soap, auth=BASIC_AUTH, timeout=5)
        assert response.status_code == 500
        assert _fault_code(response.content) == code
    wrong_type = requests.post(
        server.url, data=b"{}", headers={"Content-Type": "text/json"}, auth=BASIC_AUTH, timeout=5
    )
    assert (wrong_type.status_code, _fault_code(wrong_type.content)) == (500, INVALID_SOAP_BODY)

    protocol = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    header = protocol.build_wsman_header(
        action="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Bogus",
        resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
    )
    header["env:Body"] = {}
    with pytest.raises(WSManFaultError) as unknown_action:
        protocol.send_message(xmltodict.unparse({"env:Envelope": header}))
    assert unknown_action.value.wsman_fault_code == INVALID_ACTION_URI

    with pytest.raises(WSManFaultError) as unknown_shell:
        protocol.run_command("NO-SUCH-SHELL", "ipconfig")
    assert unknown_shell.value.wsman_fault_code == UNEXPECTED_SELECTORS

    shell_id = protocol.open_shell()
    with pytest.raises(WSManFaultError) as unknown_command:
        protocol.get_command_output(shell_id, "NO-SUCH-COMMAND")
    assert unknown_command.value.wsman_fault_code == RESOURCE_NOT_FOUND
    protocol.close_shell(shell_id)

    assert winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("still").std_out == b"ran: still"
    assert server.stats().requests_by_action["invalid"] == 3


def test_another_users_shell_is_not_found(server: WsmanServer, executor: RecordingExecutor) -> None:
    owner = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    shell_id = owner.open_shell()
    intruder = winrm_protocol(server.url, BASIC_AUTH, "basic")
    with pytest.raises(WSManFaultError) as raised:
        intruder.run_command(shell_id, "ipconfig")
    assert raised.value.wsman_fault_code == UNEXPECTED_SELECTORS
    owner.close_shell(shell_id)
    intruder.transport.close_session()


def test_refuse_closes_the_door_until_cleared(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    server.faults.refuse = True
    with pytest.raises(requests.exceptions.ConnectionError):
        winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("Get-Date")
    server.faults.refuse = False
    assert winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("again").std_out == b"ran: again"


def test_refuse_cuts_open_connections(server: WsmanServer, executor: RecordingExecutor) -> None:
    protocol = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    shell_id = protocol.open_shell()
    server.faults.refuse = True
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol.run_command(shell_id, "ipconfig")
    protocol.transport.close_session()


@pytest.mark.parametrize(("auth", "transport"), [(NTLM_AUTH, "ntlm"), (BASIC_AUTH, "basic")])
def test_force_401_is_invalid_credentials(
    server: WsmanServer, executor: RecordingExecutor, auth: tuple[str, str], transport: str
) -> None:
    server.faults.force_401 = True
    with pytest.raises(InvalidCredentialsError):
        winrm_session(server.url, auth, transport).run_ps("Get-Date")
    server.faults.force_401 = False
    assert winrm_session(server.url, auth, transport).run_ps("ok").std_out == b"ran: ok"


def test_force_401_mid_session(server: WsmanServer, executor: RecordingExecutor) -> None:
    protocol = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    shell_id = protocol.open_shell()
    server.faults.force_401 = True
    with pytest.raises(InvalidCredentialsError):
        protocol.run_command(shell_id, "ipconfig")
    protocol.transport.close_session()


def test_fault_500_on_command(server: WsmanServer, executor: RecordingExecutor) -> None:
    server.faults.fault_500 = True
    with pytest.raises(WSManFaultError) as raised:
        winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("Get-Date")
    assert raised.value.code == 500
    assert raised.value.wsman_fault_code == PROVIDER_FAILURE
    assert executor.requests == []
    assert server.stats().requests_by_action["Create"] == 1


def test_malformed_xml_reply_makes_pywinrm_raise_parse_error(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    server.faults.malformed_xml = True
    # pywinrm parses every reply with ElementTree and lets its ParseError through.
    with pytest.raises(ET.ParseError):
        winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("Get-Date")
    server.faults.malformed_xml = False
    assert winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("ok").std_out == b"ran: ok"


def test_latency_still_answers(server: WsmanServer, executor: RecordingExecutor) -> None:
    server.faults.latency_ms = 20
    assert winrm_session(server.url, BASIC_AUTH, "basic").run_ps("slow").std_out == b"ran: slow"


def test_executor_exception_is_a_fault_and_serving_goes_on(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    def explode(request: CommandRequest) -> ExecResult:
        if request.script == "boom":
            raise RuntimeError("simulated host broke")
        return ExecResult(stdout=b"fine")

    executor.respond = explode
    with pytest.raises(WSManFaultError) as raised:
        winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("boom")
    assert raised.value.wsman_fault_code == PROVIDER_FAILURE
    assert "simulated host broke" not in str(raised.value.reason)
    assert winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("calm").std_out == b"fine"


def test_executor_exception_on_send_is_a_fault(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    def explode(request: CommandRequest) -> ExecResult:
        raise ValueError("no")

    executor.respond = explode
    protocol = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "powershell", ["-EncodedCommand", _encoded("x")])
    with pytest.raises(WSManFaultError) as raised:
        protocol.send_command_input(shell_id, command_id, b"probe", end=True)
    assert raised.value.wsman_fault_code == PROVIDER_FAILURE
    protocol.close_shell(shell_id)


def test_powershell_stderr_is_clixml_and_cleaned_by_pywinrm(
    server: WsmanServer, executor: RecordingExecutor
) -> None:
    executor.respond = lambda request: ExecResult(
        stdout=b"", stderr=b"Get-Item : Cannot find path\nAt line:1 char:1", exit_code=1
    )
    protocol = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "powershell -encodedcommand " + _encoded("x"))
    _, raw_stderr, _ = protocol.get_command_output(shell_id, command_id)
    protocol.close_shell(shell_id)
    assert raw_stderr.startswith(b"#< CLIXML\r\n")

    result = winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("Get-Item C:\\nope")
    assert result.status_code == 1
    assert result.std_err == b"Get-Item : Cannot find path\nAt line:1 char:1"


def test_non_loopback_addresses_are_refused(executor: RecordingExecutor) -> None:
    for address in ["0.0.0.0", "10.0.0.1", "::1", "localhost", "192.168.1.2"]:
        with pytest.raises(ValueError, match="127"):
            WsmanServer(executor, address=address)


def test_other_loopback_address_and_clean_restartless_stop(
    make_server: ServerFactory, executor: RecordingExecutor
) -> None:
    server = make_server(executor, address="127.0.0.2")
    assert server.url.startswith("http://127.0.0.2:")
    assert winrm_session(server.url, BASIC_AUTH, "basic").run_ps("x").std_out == b"ran: x"
    server.stop()
    server.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(server.url, data=b"", timeout=5)
    with pytest.raises(RuntimeError):
        server.start()


def test_stop_joins_every_thread(make_server: ServerFactory, executor: RecordingExecutor) -> None:
    server = make_server(executor)
    for _ in range(3):
        winrm_session(server.url, NTLM_AUTH, "ntlm").run_ps("x")
    kept_alive = winrm_protocol(server.url, NTLM_AUTH, "ntlm")
    kept_alive.open_shell()  # leaves an idle keep-alive connection and an open shell
    server.stop()
    leftovers = [
        thread.name
        for thread in threading.enumerate()
        if thread.name.startswith("wsman-") or "process_request_thread" in thread.name
    ]
    assert leftovers == []
    kept_alive.transport.close_session()


def test_stats_reset(server: WsmanServer, executor: RecordingExecutor) -> None:
    winrm_session(server.url, BASIC_AUTH, "basic").run_ps("x")
    assert server.stats().requests == 5
    server.reset_stats()
    stats = server.stats()
    assert (stats.requests, stats.commands_run, stats.shells_created) == (0, 0, 0)


@pytest.mark.timeout(20)
def test_stop_releases_a_held_receive(make_server: ServerFactory) -> None:
    executor = RecordingExecutor(lambda request: ExecResult(stdout=b"", duration_s=3600))
    server = make_server(executor)
    protocol = winrm_protocol(
        server.url, NTLM_AUTH, "ntlm", operation_timeout_sec=60, read_timeout_sec=70
    )
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "ipconfig")

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(protocol.get_command_output_raw, shell_id, command_id)
        while executor.requests == []:
            time.sleep(0.01)
        # stop() must not wait out the 60 s operation timeout of the held Receive. The
        # client sees the answer the stop gives it, or its connection cut (before or while
        # the answer's body was sent: requests says ChunkedEncodingError for the latter)
        server.stop()
        with pytest.raises(
            (
                WinRMOperationTimeoutError,
                requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
            )
        ):
            pending.result(timeout=10)
    protocol.transport.close_session()


@pytest.mark.timeout(20)
def test_executor_may_flip_refuse_while_the_server_stops(make_server: ServerFactory) -> None:
    started = threading.Event()
    release = threading.Event()
    holder: list[WsmanServer] = []

    def flip(request: CommandRequest) -> ExecResult:
        started.set()
        release.wait(10)
        holder[0].faults.refuse = True
        return ExecResult(stdout=b"")

    server = make_server(RecordingExecutor(flip))
    holder.append(server)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(winrm_session(server.url, BASIC_AUTH, "basic").run_ps, "x")
        assert started.wait(10)
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        release.set()
        stopper.join(15)
        assert not stopper.is_alive()
        # The client's fate depends on which side of the cut its last request fell.
        pending.exception(timeout=10)
