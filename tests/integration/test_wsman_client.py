"""The lean WinRM client (handlers/wsman) against the lab's WS-Management endpoint: real
HTTP(S), real NTLM with WinRM message encryption, the lab's faults; the same exchange as
pywinrm with one round trip less per script, and one shell for several scripts."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator

import pytest
import winrm

from checks.errors import (
    AuthenticationFailedError,
    BadOutputError,
    CollectionTimeoutError,
    HostUnreachableError,
    RemoteError,
    TlsError,
)
from checks.secret import Secret
from handlers.probes import compose
from handlers.target import HostTarget
from handlers.winrm import WinrmClient, WinrmSettings
from lab.wsman import (
    AuthPolicy,
    CommandRequest,
    ExecResult,
    TlsFiles,
    WsmanServer,
)
from tests.wsman_support import NTLM_PASSWORD, NTLM_USER

USER, PASSWORD = NTLM_USER, NTLM_PASSWORD


class Recorder:
    def __init__(self) -> None:
        self.requests: list[CommandRequest] = []
        self.answer = ExecResult(stdout=b"")

    def __call__(self, request: CommandRequest) -> ExecResult:
        self.requests.append(request)
        if self.answer.stdout:
            return self.answer
        return ExecResult(
            stdout=b"got %d bytes" % len(request.stdin), exit_code=self.answer.exit_code
        )


pytestmark = pytest.mark.usefixtures("ntlm_user_file")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[WsmanServer]:
    endpoint = WsmanServer(recorder, auth=AuthPolicy(ntlm=True))
    with endpoint.start():
        yield endpoint


def target(url: str, **overrides: object) -> HostTarget:
    fields: dict[str, object] = {
        "name": "h1",
        "role": "client",
        "address": "127.0.0.1",
        "winrm_url": url,
        "transport": "ntlm",
        "username": USER,
        "password_file": None,
        "verify_tls": True,
        "ca_bundle": None,
    }
    fields.update(overrides)
    return HostTarget(**fields)  # type: ignore[arg-type]


def client(**settings: float) -> WinrmClient:
    options: dict[str, float] = {
        "operation_timeout_s": 2,
        "read_timeout_s": 4,
        "connect_retries": 0,
    }
    options.update(settings)
    return WinrmClient(WinrmSettings(**options), sleep=lambda _s: None)  # type: ignore[arg-type]


def deadline(seconds: float = 20) -> float:
    return time.monotonic() + seconds


def test_one_script_is_seven_round_trips_all_sealed(
    server: WsmanServer, recorder: Recorder
) -> None:
    result = client().run(target(server.url), Secret(PASSWORD), "x" * 70_000, deadline=deadline())
    assert (result.stdout, result.exit_code) == (b"got 70000 bytes", 0)
    [request] = recorder.requests
    # the stager on the command line, the script on stdin (docs/probes.md, "Transport")
    assert request.script == compose.stager()
    assert request.username == USER
    stats = server.stats()
    assert dict(stats.requests_by_action) == {
        "Create": 1,
        "Command": 1,
        "Send": 1,
        "Receive": 1,
        "Delete": 1,
    }
    assert stats.encrypted_requests == 5, "every SOAP message went sealed"
    assert stats.http_posts == 7, "Negotiate, Authenticate and the five messages"
    assert stats.open_shells == 0
    assert stats.auth_failures == 0

    # stock pywinrm, for the same one script: an anonymous request first, and a Signal
    server.reset_stats()
    session = winrm.Session(
        server.url, auth=(USER, PASSWORD), transport="ntlm", proxy=None, ca_trust_path=None
    )
    assert session.run_ps("x").status_code == 0
    assert server.stats().http_posts == 8


def test_one_session_runs_several_scripts_in_one_shell(
    server: WsmanServer, recorder: Recorder
) -> None:
    with client().session(target(server.url), Secret(PASSWORD), deadline=deadline()) as shell:
        outputs = [shell.run("a" * size, deadline()).stdout for size in (1, 10, 100)]
    assert outputs == [b"got 1 bytes", b"got 10 bytes", b"got 100 bytes"]
    stats = server.stats()
    assert stats.shells_created == 1
    assert stats.commands_run == 3
    assert stats.http_posts == 2 + 1 + 3 * 3 + 1
    assert stats.open_shells == 0


def test_exit_code_and_large_output_across_receives(
    server: WsmanServer, recorder: Recorder
) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB, every byte value
    recorder.answer = ExecResult(stdout=payload, stderr=b"warn", exit_code=7)
    result = client().run(target(server.url), Secret(PASSWORD), "x", deadline=deadline())
    assert (result.stdout, result.exit_code) == (payload, 7)
    # PowerShell writes a plain stderr line as CLIXML; it arrives as the host sent it
    assert result.stderr.startswith(b"#< CLIXML")
    assert b"warn" in result.stderr
    # 500 KB envelopes ([MS-WSMV] 3.1.4.1.7): ~380 KB of output per Receive, not ~110 KB
    assert server.stats().requests_by_action["Receive"] <= 6


def test_a_long_command_is_polled_until_done(server: WsmanServer, recorder: Recorder) -> None:
    recorder.answer = ExecResult(stdout=b"done", duration_s=2.2)
    result = client(operation_timeout_s=1, read_timeout_s=3).run(
        target(server.url), Secret(PASSWORD), "x", deadline=deadline()
    )
    assert result.stdout == b"done"
    stats = server.stats()
    assert stats.operation_timeouts >= 1
    assert stats.requests_by_action["Receive"] == stats.operation_timeouts + 1


def test_the_deadline_ends_a_command_and_the_shell(server: WsmanServer, recorder: Recorder) -> None:
    recorder.answer = ExecResult(stdout=b"late", duration_s=30)
    with pytest.raises(CollectionTimeoutError) as caught:
        client(operation_timeout_s=1, read_timeout_s=3).run(
            target(server.url), Secret(PASSWORD), "x", deadline=deadline(3)
        )
    assert caught.value.delivered, "the command had started: a fix must not be retried"
    stats = server.stats()
    # past the deadline no Signal: the Delete ends the command ([MS-WSMV] 3.1.4.4.1)
    assert "Signal" not in stats.requests_by_action
    assert stats.requests_by_action["Delete"] == 1
    assert stats.open_shells == 0


def test_wrong_password_is_an_authentication_error(server: WsmanServer, recorder: Recorder) -> None:
    with pytest.raises(AuthenticationFailedError) as caught:
        client().run(target(server.url), Secret("wrong-" + PASSWORD), "x", deadline=deadline())
    assert "rejected the credentials" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    for half in client()._ntlm_password("wrong-" + PASSWORD).split(":"):
        assert half not in str(caught.value).lower()
    assert recorder.requests == []


def test_a_401_in_the_middle_of_a_session(server: WsmanServer, recorder: Recorder) -> None:
    with client().session(target(server.url), Secret(PASSWORD), deadline=deadline()) as shell:
        shell.run("x", deadline())
        server.faults.force_401 = True
        with pytest.raises(AuthenticationFailedError):
            shell.run("x", deadline())


def test_faults_become_remote_and_bad_output_errors(server: WsmanServer) -> None:
    server.faults.fault_500 = True
    with pytest.raises(RemoteError, match="WS-Management fault 2150858755"):
        client().run(target(server.url), Secret(PASSWORD), "x", deadline=deadline())
    server.faults.fault_500 = False
    server.faults.malformed_xml = True
    with pytest.raises(BadOutputError):
        client().run(target(server.url), Secret(PASSWORD), "x", deadline=deadline())


def test_https_with_the_ca_bundle_is_not_sealed_twice(
    recorder: Recorder, tls_files: TlsFiles
) -> None:
    endpoint = WsmanServer(recorder, auth=AuthPolicy(ntlm=True), tls=tls_files)
    with endpoint.start():
        host = target(endpoint.url, ca_bundle=tls_files.ca_cert)
        assert client().run(host, Secret(PASSWORD), "abc", deadline=deadline()).exit_code == 0
        assert endpoint.stats().encrypted_requests == 0, "TLS protects it; auto does not seal"
        endpoint.reset_stats()
        always = target(endpoint.url, ca_bundle=tls_files.ca_cert, message_encryption="always")
        assert client().run(always, Secret(PASSWORD), "abc", deadline=deadline()).exit_code == 0
        assert endpoint.stats().encrypted_requests == 5
        with pytest.raises(TlsError, match="certificate verify failed"):
            client().run(target(endpoint.url), Secret(PASSWORD), "x", deadline=deadline())
        unchecked = target(endpoint.url, verify_tls=False)
        assert client().run(unchecked, Secret(PASSWORD), "x", deadline=deadline()).exit_code == 0


def test_over_https_the_log_on_carries_the_channel_binding(
    recorder: Recorder, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lab's acceptor requires the tls-server-end-point binding over TLS (as a host
    with CbtHardeningLevel Strict): with it the log-on goes through, without it it fails."""
    from handlers.wsman.channel import NtlmChannel

    endpoint = WsmanServer(recorder, auth=AuthPolicy(ntlm=True), tls=tls_files)
    with endpoint.start():
        host = target(endpoint.url, ca_bundle=tls_files.ca_cert)
        assert client().run(host, Secret(PASSWORD), "x", deadline=deadline()).exit_code == 0
        monkeypatch.setattr(NtlmChannel, "_channel_bindings", lambda self: None)
        with pytest.raises(AuthenticationFailedError):
            client().run(host, Secret(PASSWORD), "x", deadline=deadline())
        assert endpoint.stats().auth_failures == 1


def test_never_encrypting_sends_plain_soap(server: WsmanServer) -> None:
    host = target(server.url, message_encryption="never")
    assert client().run(host, Secret(PASSWORD), "abc", deadline=deadline()).exit_code == 0
    stats = server.stats()
    assert stats.encrypted_requests == 0
    # the Authenticate leg carries the Create itself
    assert stats.http_posts == 6


def test_a_closed_port_is_unreachable_and_retried() -> None:
    slept: list[float] = []
    retrying = WinrmClient(
        WinrmSettings(connect_retries=2, retry_backoff_s=0.1), sleep=slept.append
    )
    with pytest.raises(HostUnreachableError, match="Connection refused"):
        retrying.run(target("http://127.0.0.1:9/wsman"), Secret(PASSWORD), "x", deadline=deadline())
    assert slept == [0.1, 0.2]


class _HostileHandler(socketserver.StreamRequestHandler):
    answer = b""

    def handle(self) -> None:
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        self.wfile.write(self.answer)


@pytest.mark.parametrize(
    ("answer", "error", "match"),
    [
        (
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 999999999\r\n\r\n",
            BadOutputError,
            "refusing it",
        ),
        (b"SSH-2.0-OpenSSH_9.2\r\n", HostUnreachableError, "cannot connect"),
        (
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n"
            b"Content-Length: 0\r\n\r\n",
            AuthenticationFailedError,
            "no NTLM challenge",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", RemoteError, "HTTP 200"),
    ],
    ids=["huge answer", "not HTTP", "no challenge", "no authentication asked"],
)
def test_a_hostile_endpoint_gets_a_clear_error(
    answer: bytes, error: type[Exception], match: str
) -> None:
    handler = type("Handler", (_HostileHandler,), {"answer": answer})
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as hostile:
        thread = threading.Thread(target=hostile.serve_forever, daemon=True)
        thread.start()
        try:
            port = hostile.server_address[1]
            with pytest.raises(error, match=match) as caught:
                client().run(
                    target(f"http://127.0.0.1:{port}/wsman"),
                    Secret(PASSWORD),
                    "x",
                    deadline=deadline(),
                )
            assert PASSWORD not in str(caught.value)
        finally:
            hostile.shutdown()
            thread.join()


def test_an_unsealed_answer_in_an_encrypted_session_is_refused(
    server: WsmanServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A man in the middle of http:// answers in clear: never read as the host's words."""
    import lab.wsman.auth as lab_auth
    import lab.wsman.server as lab_server

    monkeypatch.setattr(lab_auth._AcceptorSession, "seal", lambda self, message: message)
    monkeypatch.setattr(lab_server, "ENCRYPTED_CONTENT_TYPE", "application/soap+xml;charset=UTF-8")
    with pytest.raises(BadOutputError, match="unsealed answer"):
        client().run(target(server.url), Secret(PASSWORD), "x", deadline=deadline())


def test_message_layout_matches_pywinrm() -> None:
    """Element for element what pywinrm sends (what real Windows has answered for years),
    apart from the ids, a:To (the endpoint's own URL) and the larger MaxEnvelopeSize."""
    import xml.etree.ElementTree as ET

    from winrm.protocol import Protocol

    from handlers.wsman.envelopes import Envelopes

    sent: list[str] = []

    class Captured(Exception):
        pass

    protocol = Protocol(
        "http://h:5985/wsman",
        transport="ntlm",
        username="u",
        password="p",
        operation_timeout_sec=20,
        read_timeout_sec=30,
    )

    def capture(message: str) -> bytes:
        sent.append(message)
        raise Captured

    protocol.send_message = capture  # type: ignore[method-assign]
    for call in (
        lambda: protocol.open_shell(codepage=65001),
        lambda: protocol.run_command("S1", "powershell -e AAA"),
        lambda: protocol.send_command_input("S1", "C1", b"hello", end=True),
        lambda: protocol.get_command_output_raw("S1", "C1"),
        lambda: protocol.cleanup_command("S1", "C1"),
        lambda: protocol.close_shell("S1", close_session=False),
    ):
        with pytest.raises(Captured):
            call()
    ours = Envelopes("http://h:5985/wsman", 20)
    mine = [
        ours.create_shell(65001),
        ours.command("S1", "powershell -e AAA"),
        ours.send("S1", "C1", b"hello", end=True),
        ours.receive("S1", "C1"),
        ours.terminate("S1", "C1"),
        ours.delete_shell("S1"),
    ]

    def shape(xml: bytes | str) -> list[tuple[str, dict[str, str], str]]:
        root = ET.fromstring(xml)
        out = []
        for element in root.iter():
            text = (element.text or "").strip()
            if element.tag.endswith("}MessageID") or element.tag.endswith("}To"):
                text = "<id>"
            if element.tag.endswith("}MaxEnvelopeSize"):
                text = "<size>"
            out.append((element.tag, dict(element.attrib), text))
        return out

    for theirs, own in zip(sent, mine, strict=True):
        assert shape(own) == shape(theirs)
    assert b'<w:MaxEnvelopeSize mustUnderstand="true">512000<' in mine[0]


def test_a_tampered_sealed_answer_is_refused(
    server: WsmanServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flip one byte of every sealed answer: the signature check refuses it as bad output
    (never read as the host's words)."""
    import lab.wsman.auth as lab_auth

    real_seal = lab_auth._AcceptorSession.seal

    def tampered(self: lab_auth._AcceptorSession, message: bytes) -> bytes:
        sealed = bytearray(real_seal(self, message))
        sealed[-40] ^= 0x01
        return bytes(sealed)

    monkeypatch.setattr(lab_auth._AcceptorSession, "seal", tampered)
    with pytest.raises(BadOutputError, match="does not verify"):
        client().run(target(server.url), Secret(PASSWORD), "x", deadline=deadline())
