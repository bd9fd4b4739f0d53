"""The lab's WS-Management endpoint: one HTTP(S) server per simulated host, on loopback."""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import logging
import socket
import socketserver
import ssl
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from spnego.channel_bindings import GssChannelBindings

from lab.listeners import accept_loop
from lab.wsman.auth import (
    ENCRYPTED_CONTENT_TYPE,
    AuthPolicy,
    AuthRejected,
    KerberosSession,
    NtlmSession,
    is_encrypted_content_type,
    is_kerberos_token,
    is_ntlm_token,
    kerberos_acceptor_available,
    ntlm_user_file_configured,
    parse_authorization,
    tls_channel_bindings,
)
from lab.wsman.commandline import join_command_line
from lab.wsman.executor import Executor
from lab.wsman.faults import (
    INVALID_ACTION_URI,
    INVALID_SOAP_BODY,
    PROVIDER_FAILURE,
    Faults,
    FaultSettings,
    WsmanFault,
)
from lab.wsman.shells import ShellService
from lab.wsman.soap import (
    ACTION_COMMAND,
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_RECEIVE,
    ACTION_SEND,
    ACTION_SIGNAL,
    NS_SHELL,
    WsmanRequest,
    command_response,
    create_response,
    empty_response,
    fault_response,
    parse_request,
    receive_response,
    send_response,
    signal_response,
)
from lab.wsman.stats import StatsRecorder, WsmanStats
from lab.wsman.tls import TlsFiles

log = logging.getLogger(__name__)

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
MALFORMED_REPLY = b"lab fault injection: this reply is not XML <<<"
_SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
#: a simulated latency is slept in slices of at most this, so stop() is never held longer
_LATENCY_SLICE_S = 0.05
# Room for the envelope and the Stream element tags around the base64 output.
_ENVELOPE_OVERHEAD = 8192


def _q(name: str) -> str:
    return f"{{{NS_SHELL}}}{name}"


class _Connections:
    """Open client sockets, so refuse and stop can cut them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def cut_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            # The plain socket call: SSLSocket.shutdown would tear down TLS state that the
            # handler thread may be using.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Endpoint:
    """What every request handler of one server shares."""

    def __init__(
        self,
        executor: Executor,
        auth: AuthPolicy,
        faults: Faults,
        machine_name: str,
        max_request_bytes: int,
    ) -> None:
        self.auth = auth
        self.faults = faults
        self.machine_name = machine_name
        self.max_request_bytes = max_request_bytes
        self.stats = StatsRecorder()
        self.shells = ShellService(executor, self.stats)
        self.connections = _Connections()
        self.stopping = threading.Event()
        self.url = ""
        #: over TLS, the binding every NTLM log-on must carry (CbtHardeningLevel Strict)
        self.channel_bindings: GssChannelBindings | None = None

    def handle_soap(
        self, xml: bytes, user: str, settings: FaultSettings, client_ip: str, is_soap: bool
    ) -> bytes:
        """The reply envelope; a WsmanFault reply is raised as _FaultReply (HTTP 500)."""
        try:
            if not is_soap:
                raise _schema_fault("The content type must be application/soap+xml.")
            request = parse_request(xml)
        except WsmanFault as fault:
            self.stats.request("invalid")
            raise self._fault_reply(fault, None) from None
        self.stats.request(request.short_action)
        try:
            return self._dispatch(request, user, settings, client_ip)
        except WsmanFault as fault:
            raise self._fault_reply(fault, request.message_id) from None
        except Exception:
            log.exception("the lab endpoint failed on a %s request", request.short_action)
            internal = WsmanFault(PROVIDER_FAILURE, "The lab endpoint failed internally.")
            raise self._fault_reply(internal, request.message_id) from None

    def _fault_reply(self, fault: WsmanFault, relates_to: str | None) -> _FaultReply:
        self.stats.fault(fault.wsman_code)
        return _FaultReply(fault_response(fault, relates_to, self.machine_name))

    def _dispatch(
        self, request: WsmanRequest, user: str, settings: FaultSettings, client_ip: str
    ) -> bytes:
        if request.action == ACTION_CREATE:
            shell_id = self.shells.create_shell(user)
            return create_response(request, shell_id, self.url, user, client_ip)
        if request.action == ACTION_COMMAND:
            if settings.fault_500:
                raise WsmanFault(
                    PROVIDER_FAILURE,
                    "The WS-Management service cannot process the request (injected fault).",
                )
            command_line = _command_line(request)
            command_id = self.shells.start_command(request.shell_id, user, command_line)
            return command_response(request, command_id)
        if request.action == ACTION_SEND:
            for stream in request.body_child(NS_SHELL, "Send").iterfind(_q("Stream")):
                self.shells.send_input(
                    request.shell_id,
                    user,
                    _command_id(stream),
                    _stream_bytes(stream.text or ""),
                    end=(stream.get("End") or "").lower() == "true",
                )
            return send_response(request)
        if request.action == ACTION_RECEIVE:
            desired = request.body_child(NS_SHELL, "Receive").find(_q("DesiredStream"))
            if desired is None:
                raise _schema_fault("rsp:Receive has no rsp:DesiredStream.")
            command_id = _command_id(desired)
            max_bytes = max(1024, (request.max_envelope_size - _ENVELOPE_OVERHEAD) * 3 // 4)
            output = self.shells.receive(
                request.shell_id, user, command_id, request.operation_timeout_s, max_bytes
            )
            return receive_response(request, command_id, output.chunks, output.exit_code)
        if request.action == ACTION_SIGNAL:
            signal = request.body_child(NS_SHELL, "Signal")
            self.shells.signal(request.shell_id, user, _command_id(signal))
            return signal_response(request)
        if request.action == ACTION_DELETE:
            self.shells.delete_shell(request.shell_id, user)
            return empty_response(request)
        raise WsmanFault(
            INVALID_ACTION_URI,
            f"The WS-Addressing action URI {request.action[:200]} is not supported.",
            subcode="a:ActionNotSupported",
            code="s:Sender",
        )


class _FaultReply(Exception):
    def __init__(self, envelope: bytes) -> None:
        super().__init__("WS-Management fault")
        self.envelope = envelope


def _schema_fault(reason: str) -> WsmanFault:
    return WsmanFault(INVALID_SOAP_BODY, reason, subcode="w:SchemaValidationError", code="s:Sender")


def _command_id(element: Any) -> str:
    command_id = str(element.get("CommandId") or "").strip()
    if not command_id:
        raise _schema_fault("The element has no CommandId attribute.")
    return command_id


def _stream_bytes(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error:
        raise _schema_fault("The stream content is not base64.") from None


def _command_line(request: WsmanRequest) -> str:
    command_line = request.body_child(NS_SHELL, "CommandLine")
    command = command_line.findtext(_q("Command"))
    if command is None or not command.strip():
        raise _schema_fault("rsp:CommandLine has no rsp:Command.")
    arguments = [element.text or "" for element in command_line.iterfind(_q("Arguments"))]
    return join_command_line(command, arguments)


class _HttpServer(ThreadingHTTPServer):
    # Joined threads make stop() clean; the tracked connections are cut first.
    daemon_threads = False
    block_on_close = True
    # Many clients connect at once in the lab (one per simulated check); a backlog of 5
    # would drop SYNs and add a one-second retransmit to each dropped one.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        endpoint: _Endpoint,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.endpoint = endpoint
        self.ssl_context = ssl_context
        super().__init__(address, _WsmanHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), a slow DNS call.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, client_address = self.socket.accept()
        if self.ssl_context is not None:
            # The handshake happens in the handler thread, not in the accept loop.
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, client_address

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _WsmanHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    # Headers and body leave in separate sends; Nagle + delayed ACK would add ~40 ms each.
    disable_nagle_algorithm = True
    timeout = 120
    server: _HttpServer

    def setup(self) -> None:
        self.ntlm: NtlmSession | KerberosSession | None = None
        #: the acceptor's last token (Kerberos AP-REP), sent with the next reply
        self.mutual_token: str | None = None
        self.endpoint = self.server.endpoint
        self.endpoint.connections.add(self.request)
        try:
            if isinstance(self.request, ssl.SSLSocket):
                self.request.settimeout(self.timeout)
                self.request.do_handshake()
            super().setup()
        except BaseException:
            # finish() does not run when setup() fails.
            self.endpoint.connections.discard(self.request)
            raise

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.endpoint.connections.discard(self.request)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.client_address[0], format % args)

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        settings = self.endpoint.faults.snapshot()
        if settings.latency_ms > 0:
            self._simulate_latency(settings.latency_ms / 1000)
        if self.path.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            self._reply(404, b"", "text/plain")
            return
        self.endpoint.stats.http_post()
        user = self._authenticate(settings)
        if user is None:
            return
        encrypted = is_encrypted_content_type(self.headers.get("Content-Type", ""))
        if encrypted:
            if self.ntlm is None or not self.ntlm.complete:
                self._reply(400, b"", "text/plain", close=True)
                return
            self.endpoint.stats.encrypted_request()
            try:
                body = self.ntlm.unseal(body)
            except ValueError as error:
                log.debug("undecryptable request from %s: %s", self.client_address[0], error)
                self.ntlm = None
                self._reply(400, b"", "text/plain", close=True)
                return
        if not body:
            # The empty POST that completes authentication before encrypted traffic.
            self._reply(200, b"", _SOAP_CONTENT_TYPE)
            return
        status, reply = self._soap(body, user, settings, encrypted)
        if settings.malformed_xml:
            status, reply = 200, MALFORMED_REPLY
        if encrypted and self.ntlm is not None:
            self._reply(status, self.ntlm.seal(reply), ENCRYPTED_CONTENT_TYPE)
        else:
            self._reply(status, reply, _SOAP_CONTENT_TYPE)

    def _simulate_latency(self, seconds: float) -> None:
        """Sleep ``seconds``, in slices that end early once the server stops.

        Why not ``stopping.wait(seconds)``: Event.wait is Python code (a Condition, a new
        lock per call), and at 7 requests per checked host it was a tenth of the lab's
        CPU in a 1,000-host run; time.sleep releases the GIL for the whole slice."""
        end = time.monotonic() + seconds
        while not self.endpoint.stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, _LATENCY_SLICE_S))

    def _soap(
        self, body: bytes, user: str, settings: FaultSettings, encrypted: bool
    ) -> tuple[int, bytes]:
        content_type = self.headers.get("Content-Type", "").lower()
        is_soap = encrypted or content_type.startswith("application/soap+xml")
        try:
            reply = self.endpoint.handle_soap(body, user, settings, self.client_address[0], is_soap)
        except _FaultReply as fault:
            return 500, fault.envelope
        return 200, reply

    def _read_body(self) -> bytes | None:
        limit = self.endpoint.max_request_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length_text = self.headers.get("Content-Length", "0").strip()
        if not length_text.isdigit():
            self._reply(400, b"", "text/plain", close=True)
            return None
        length = int(length_text)
        if length > limit:
            self._reply(413, b"", "text/plain", close=True)
            return None
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self._reply(400, b"", "text/plain", close=True)
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > limit:
                self._reply(413, b"", "text/plain", close=True)
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _authenticate(self, settings: FaultSettings) -> str | None:
        """The user this request acts as, or None once a 401 has been sent."""
        policy = self.endpoint.auth
        header = self.headers.get("Authorization")
        if header:
            scheme, token = parse_authorization(header)
            if scheme in ("ntlm", "negotiate") and (policy.ntlm or policy.kerberos):
                return self._ntlm_step("NTLM" if scheme == "ntlm" else "Negotiate", token, settings)
            if scheme == "basic" and policy.basic:
                user = policy.check_basic(token)
                if user is None or settings.force_401:
                    return self._reject()
                return user
            return self._reject()
        if self.ntlm is not None and self.ntlm.complete:
            if settings.force_401:
                return self._reject()
            return self.ntlm.username
        self._reply_401()
        return None

    def _ntlm_step(self, scheme: str, token: str, settings: FaultSettings) -> str | None:
        try:
            raw = base64.b64decode(token, validate=True)
        except binascii.Error:
            return self._reject()
        is_negotiate_message = raw[:8] == b"NTLMSSP\x00" and raw[8:12] == b"\x01\x00\x00\x00"
        policy = self.endpoint.auth
        kerberos = is_kerberos_token(raw)
        if (kerberos and not policy.kerberos) or (is_ntlm_token(raw) and not policy.ntlm):
            return self._reject()
        if not kerberos and not is_ntlm_token(raw):
            return self._reject()
        try:
            if kerberos:
                # an AP-REQ always starts a new context (one leg)
                self.ntlm = KerberosSession()
            elif is_negotiate_message or self.ntlm is None or self.ntlm.complete:
                self.ntlm = NtlmSession(self.endpoint.channel_bindings)
            reply_token = self.ntlm.step(raw)
        except AuthRejected as rejected:
            log.debug("NTLM rejected from %s: %s", self.client_address[0], rejected)
            return self._reject()
        except Exception:
            log.warning(
                "%s acceptor failed (is NTLM_USER_FILE or KRB5_KTNAME set?)",
                "Kerberos" if kerberos else "NTLM",
                exc_info=True,
            )
            return self._reject()
        if not self.ntlm.complete:
            challenge = base64.b64encode(reply_token or b"").decode("ascii")
            self._reply_401([f"{scheme} {challenge}"])
            return None
        if settings.force_401:
            return self._reject()
        if reply_token:
            self.mutual_token = f"{scheme} " + base64.b64encode(reply_token).decode("ascii")
        return self.ntlm.username

    def _reject(self) -> str | None:
        """Answer 401 for wrong or refused credentials; returns None (no user)."""
        self.ntlm = None
        self.endpoint.stats.auth_failure()
        self._reply_401()
        return None

    def _reply_401(self, challenges: list[str] | None = None) -> None:
        headers = challenges or self.endpoint.auth.challenge_headers()
        self._reply(401, b"", "text/plain", www_authenticate=headers)

    def _reply(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        close: bool = False,
        www_authenticate: list[str] | None = None,
    ) -> None:
        self.send_response(status)
        if www_authenticate is None and self.mutual_token is not None:
            www_authenticate = [self.mutual_token]
        self.mutual_token = None
        for value in www_authenticate or []:
            self.send_header("WWW-Authenticate", value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(body)


def _require_loopback(address: str) -> None:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        message = f"the lab binds 127.0.0.0/8 address literals only, not {address!r}"
        raise ValueError(message) from None
    if parsed not in LOOPBACK:
        raise ValueError(f"the lab binds 127.0.0.0/8 only, not {address}")


class WsmanServer:
    """A WS-Management endpoint for one simulated host.

    ``start()`` listens in background threads; ``stop()`` cuts connections and joins every
    thread (idempotent). ``faults`` may be changed at any time; ``stats()`` snapshots the
    counters, ``reset_stats()`` zeroes them.
    """

    def __init__(
        self,
        executor: Executor,
        address: str = "127.0.0.1",
        port: int = 0,
        auth: AuthPolicy | None = None,
        tls: TlsFiles | None = None,
        faults: Faults | None = None,
        *,
        machine_name: str | None = None,
        max_request_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        _require_loopback(address)
        self._address = address
        self._port = port
        self._tls = tls
        self._auth = auth or AuthPolicy()
        self._endpoint = _Endpoint(
            executor,
            self._auth,
            faults or Faults(),
            machine_name or address,
            max_request_bytes,
        )
        self._lock = threading.Lock()
        self._httpd: _HttpServer | None = None
        self._retired: list[_HttpServer] = []
        self._ssl_context: ssl.SSLContext | None = None
        self._running = False
        self._stopped = False
        if tls is not None:
            self._endpoint.channel_bindings = tls_channel_bindings(tls.cert)
        self._endpoint.faults.on_refuse_change(self._on_refuse_change)

    @property
    def faults(self) -> Faults:
        return self._endpoint.faults

    @property
    def address(self) -> str:
        return self._address

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self._address}:{self._port}/wsman"

    def stats(self) -> WsmanStats:
        return self._endpoint.stats.snapshot(self._endpoint.shells.open_shell_count())

    def reset_stats(self) -> None:
        self._endpoint.stats.reset()

    def start(self) -> WsmanServer:
        """Listen (returns once the socket accepts connections)."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("a stopped WsmanServer cannot be started again")
            if self._running:
                return self
            if self._auth.ntlm and not ntlm_user_file_configured():
                raise RuntimeError(
                    "NTLM authentication needs the NTLM_USER_FILE environment variable to name"
                    " an existing file (see write_ntlm_user_file)"
                )
            unavailable = kerberos_acceptor_available() if self._auth.kerberos else None
            if unavailable:
                raise RuntimeError(f"Kerberos authentication cannot be accepted: {unavailable}")
            if self._tls is not None:
                self._ssl_context = self._tls.server_context()
            self._open_listener()
            self._endpoint.url = self.url
            self._running = True
            if self.faults.refuse:
                self._close_listener()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._running = False
            self._endpoint.stopping.set()
            self._endpoint.shells.stop()
            self._close_listener()
            retired, self._retired = self._retired, []
        # Joined outside the lock: a handler thread (an executor flipping faults.refuse,
        # say) may be waiting for it.
        self._endpoint.connections.cut_all()
        for httpd in retired:
            # joins the connection threads (block_on_close)
            httpd.server_close()

    def __enter__(self) -> WsmanServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.stop()

    def _on_refuse_change(self, refuse: bool) -> None:
        with self._lock:
            if not self._running:
                return
            if refuse:
                self._close_listener()
                self._endpoint.connections.cut_all()
            elif self._httpd is None:
                self._open_listener()

    def _open_listener(self) -> None:
        httpd = _HttpServer((self._address, self._port), self._endpoint, self._ssl_context)
        self._port = int(httpd.server_address[1])
        # no thread of its own: the process's one accept loop (an idle host costs nothing)
        accept_loop().add(httpd)
        self._httpd = httpd

    def _close_listener(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        accept_loop().remove(httpd)
        httpd.socket.close()
        # Handler threads still finishing are joined at stop().
        self._retired.append(httpd)
        self._httpd = None
