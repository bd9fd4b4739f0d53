"""One authenticated HTTP connection to a WinRM endpoint, NTLM over Negotiate, with WinRM
message encryption ([MS-WSMV] 2.2.9.1.1) when the exchange is not already inside TLS.

Why not requests + pywinrm here: a check sends seven messages to a host and leaves, and
requests' per-message machinery (session merge, prepared request, adapters, hooks, urllib3
pool) and pywinrm's xmltodict envelopes cost more CPU than the NTLM sealing itself
(bench/README.md, "fleet"). This is http.client on one keep-alive connection, and pyspnego's
NTLM context used directly, as requests_ntlm uses it.

Authentication, as [MS-WSMV] 2.2.9.1.1.1 describes it: the client sends ``Authorization:
Negotiate <token>`` "in the request until the ... service responds with a 200 OK" (the
first request carries the NEGOTIATE message: no anonymous request to be refused first);
with encryption both legs carry an empty body, as pywinrm's ``setup_encryption`` does, and
every later body is sealed; without encryption (HTTPS) the legs carry the first message.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import socket
import ssl
import struct
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import spnego
import spnego.channel_bindings
import spnego.exceptions

from checks.errors import (
    AuthenticationFailedError,
    BadOutputError,
    CollectionTimeoutError,
    ConfigError,
    HostUnreachableError,
    RemoteError,
    TlsError,
)

ENCRYPTED_PROTOCOL = b"application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = (
    'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";'
    'boundary="Encrypted Boundary"'
)
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_BOUNDARY = b"--Encrypted Boundary"
_OCTET_STREAM = b"\tContent-Type: application/octet-stream\r\n"
_NTLM_SIGNATURE_LENGTH = 16
#: an answer larger than this is refused unread: a compliant server stays under the
#: MaxEnvelopeSize it was asked for (500 KB), sealing adds ~200 bytes
MAX_ANSWER_BYTES = 8 * 2**20
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class NtlmChannel:
    """Messages to one endpoint over one connection; not thread-safe (one check uses it)."""

    def __init__(
        self,
        host: str,
        url: str,
        username: str,
        password: str,
        *,
        encrypt: bool,
        timeout_s: float,
        tls_context: ssl.SSLContext | None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{host}: {url!r} is not an http(s) WinRM URL")
        if (parts.scheme == "https") != (tls_context is not None):
            raise ConfigError(f"{host}: an https WinRM URL needs a TLS context (and only it)")
        self._host = host
        self._hostname = parts.hostname
        self._path = (parts.path or "/wsman") + (f"?{parts.query}" if parts.query else "")
        self._username = username
        self._password = password
        self._encrypt = encrypt
        self._context: spnego.ContextProxy | None = None
        self._timeout_s = timeout_s
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._connection: http.client.HTTPConnection = (
            http.client.HTTPSConnection(
                parts.hostname, port, timeout=timeout_s, context=tls_context
            )
            if tls_context is not None
            else http.client.HTTPConnection(parts.hostname, port, timeout=timeout_s)
        )

    @property
    def encrypted(self) -> bool:
        return self._encrypt

    # ------------------------------------------------------------------ public

    def open(self, first_message: bytes | None = None) -> Answer | None:
        """Connect and authenticate. Without encryption the last leg carries
        ``first_message`` and its answer is returned; with encryption, None."""
        self._connect()
        context = spnego.client(
            self._username,
            self._password,
            hostname=self._hostname,
            service="http",
            protocol="ntlm",
            channel_bindings=self._channel_bindings(),
            # the pure-Python NTLM provider (as requests_ntlm does with a password): no
            # system GSSAPI with gss-ntlmssp is consulted
            options=spnego.NegotiateOptions.use_ntlm,
        )
        body = b"" if self._encrypt else (first_message or b"")
        negotiate = self._step(context, None)
        answer = self._exchange(body, SOAP_CONTENT_TYPE, f"Negotiate {negotiate}")
        challenge = _challenge(answer, self._www_authenticate)
        if challenge is None:
            if answer.status == 401:
                raise AuthenticationFailedError(
                    f"{self._host}: WinRM offered no NTLM challenge (is Negotiate "
                    "authentication enabled on the host?)",
                    host=self._host,
                )
            raise RemoteError(
                f"{self._host}: WinRM answered HTTP {answer.status} to the NTLM negotiation",
                host=self._host,
            )
        authenticate = self._step(context, challenge)
        answer = self._exchange(body, SOAP_CONTENT_TYPE, f"Negotiate {authenticate}")
        if answer.status == 401:
            raise AuthenticationFailedError(
                f"{self._host}: WinRM rejected the credentials (HTTP 401)", host=self._host
            )
        self._context = context
        if self._encrypt:
            if answer.status // 100 != 2:
                raise RemoteError(
                    f"{self._host}: WinRM HTTP error {answer.status}", host=self._host
                )
            return None
        return answer

    def post(self, message: bytes, deadline: float | None = None) -> Answer:
        """Send one SOAP message (sealed when encrypting); the answer's plain body. With
        ``deadline`` (a ``time.monotonic()`` value) no read waits past it."""
        if self._context is None:
            raise RuntimeError("post() before open()")
        if not self._encrypt:
            return self._exchange(message, SOAP_CONTENT_TYPE, None, deadline)
        answer = self._exchange(self._seal(message), ENCRYPTED_CONTENT_TYPE, None, deadline)
        if answer.status == 401:
            raise AuthenticationFailedError(
                f"{self._host}: WinRM rejected the credentials (HTTP 401)", host=self._host
            )
        content_type = self._last_content_type.lower()
        if content_type.startswith("multipart/encrypted") and (
            ENCRYPTED_PROTOCOL.decode().lower() in content_type
        ):
            return Answer(answer.status, self._unseal(answer.body))
        if answer.status == 200:
            # a session that seals must never take a plain answer as the host's words:
            # on http:// that is what a man in the middle would send
            raise self._bad("an unsealed answer in an encrypted session")
        # an HTTP error before WinRM (HTTP.sys) comes back unsealed: only its status counts
        return Answer(answer.status, b"")

    def close(self) -> None:
        self._connection.close()

    # ------------------------------------------------------------------ HTTP

    def _connect(self) -> None:
        try:
            self._connection.connect()
            # the NTLM context is bound to this connection: if the host closes it, the
            # next request must fail, not silently reconnect unauthenticated
            self._connection.auto_open = 0
            sock = self._connection.sock
            if sock is not None:
                # headers and body leave in one send (http.client joins them), but the
                # next request must not wait for a delayed ACK either
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except ssl.SSLCertVerificationError as exc:
            raise TlsError(
                f"{self._host}: TLS failed: certificate verify failed ({exc.verify_message})",
                host=self._host,
            ) from None
        except ssl.SSLError as exc:
            raise self._tls_error(exc) from None
        except TimeoutError:
            raise HostUnreachableError(
                f"{self._host}: cannot connect to WinRM: timed out", host=self._host
            ) from None
        except OSError as exc:
            raise HostUnreachableError(
                f"{self._host}: cannot connect to WinRM: {_os_reason(exc)}", host=self._host
            ) from None

    def _exchange(
        self,
        body: bytes,
        content_type: str,
        authorization: str | None,
        deadline: float | None = None,
    ) -> Answer:
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "Connection": "Keep-Alive",
            "User-Agent": "wsusbot",
            "Accept-Encoding": "identity",
        }
        if authorization is not None:
            headers["Authorization"] = authorization
        try:
            self._bound_wait(deadline)
            self._connection.request("POST", self._path, body=body, headers=headers)
            response = self._connection.getresponse()
            length = response.getheader("Content-Length")
            if length is not None and length.strip().isdigit() and int(length) > MAX_ANSWER_BYTES:
                raise BadOutputError(
                    f"{self._host}: a WinRM answer of {int(length):,} bytes is more than "
                    f"{MAX_ANSWER_BYTES // 2**20} MiB; refusing it",
                    host=self._host,
                )
            data = self._read_body(response, deadline)
            self._last_content_type = response.getheader("Content-Type") or ""
            self._www_authenticate = response.getheader("WWW-Authenticate") or ""
            return Answer(response.status, data)
        except TimeoutError:
            raise CollectionTimeoutError(
                f"{self._host}: WinRM did not answer in time", host=self._host
            ) from None
        except ssl.SSLError as exc:
            raise self._tls_error(exc) from None
        except (http.client.HTTPException, OSError) as exc:
            raise HostUnreachableError(
                f"{self._host}: cannot connect to WinRM: {_os_reason(exc)}", host=self._host
            ) from None

    _last_content_type = ""
    _www_authenticate = ""

    def _bound_wait(self, deadline: float | None) -> None:
        """No single socket wait past ``deadline`` (+1 s for the answer to arrive)."""
        sock = self._connection.sock
        if deadline is None or sock is None:
            return
        left = deadline - time.monotonic() + 1.0
        if left <= 0:
            raise CollectionTimeoutError(
                f"{self._host}: WinRM did not answer in time", host=self._host
            )
        sock.settimeout(min(self._timeout_s, left))

    def _read_body(self, response: http.client.HTTPResponse, deadline: float | None) -> bytes:
        """The whole body, at most MAX_ANSWER_BYTES, and read by ``deadline``: a host
        that drips a byte just inside each socket timeout must not hold the check."""
        parts: list[bytes] = []
        size = 0
        while True:
            self._bound_wait(deadline)
            part = response.read1(_READ_CHUNK)
            if not part:
                # read() marks a fully read response done (read1 does not when the length
                # ran out exactly), so the keep-alive connection takes the next request
                parts.append(response.read())
                return b"".join(parts)
            size += len(part)
            if size > MAX_ANSWER_BYTES:
                raise BadOutputError(
                    f"{self._host}: a WinRM answer is more than {MAX_ANSWER_BYTES // 2**20} "
                    "MiB; refusing it",
                    host=self._host,
                )
            parts.append(part)

    # ------------------------------------------------------------------ NTLM

    def _channel_bindings(self) -> spnego.channel_bindings.GssChannelBindings | None:
        """Over TLS, the tls-server-end-point binding of the server's certificate (RFC
        5929 4.1), as requests_ntlm sends it: Windows' CbtHardeningLevel may require it."""
        sock = self._connection.sock
        if not isinstance(sock, ssl.SSLSocket):
            return None
        certificate = sock.getpeercert(binary_form=True)
        if not certificate:
            return None
        digest = _certificate_hash(certificate)
        return spnego.channel_bindings.GssChannelBindings(
            application_data=b"tls-server-end-point:" + digest
        )

    def _step(self, context: spnego.ContextProxy, token: bytes | None) -> str:
        try:
            out = context.step(token)
        except Exception as exc:  # SpnegoError, or struct/ValueError on a broken challenge
            raise AuthenticationFailedError(
                f"{self._host}: NTLM/Negotiate failed ({type(exc).__name__})", host=self._host
            ) from None
        return base64.b64encode(out or b"").decode("ascii")

    def _seal(self, message: bytes) -> bytes:
        assert self._context is not None
        wrapped = self._context.wrap_winrm(message)
        return b"".join(
            (
                _BOUNDARY,
                b"\r\n\tContent-Type: ",
                ENCRYPTED_PROTOCOL,
                b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=",
                str(len(message)).encode("ascii"),
                b"\r\n",
                _BOUNDARY,
                b"\r\n",
                _OCTET_STREAM,
                struct.pack("<i", len(wrapped.header)),
                wrapped.header,
                wrapped.data,
                _BOUNDARY,
                b"--\r\n",
            )
        )

    def _unseal(self, body: bytes) -> bytes:
        """The plain answer of a sealed one ([MS-WSMV] 2.2.9.1.1.2); BadOutputError when it
        does not parse or verify (a tampered or broken answer is never read as output)."""
        assert self._context is not None
        parts = [part for part in body.split(_BOUNDARY + b"\r\n") if part]
        if len(parts) != 2:
            raise self._bad("a sealed answer has one header part and one payload part")
        header, payload = parts
        length = header.partition(b"Length=")[2].strip()
        if not length.isdigit():
            raise self._bad("a sealed answer does not state its length")
        if payload.endswith(_BOUNDARY + b"--\r\n"):
            payload = payload[: -len(_BOUNDARY) - 4]
        if not payload.startswith(_OCTET_STREAM) or len(payload) < len(_OCTET_STREAM) + 4:
            raise self._bad("a sealed answer has no octet-stream payload")
        payload = payload[len(_OCTET_STREAM) :]
        (signature_length,) = struct.unpack("<i", payload[:4])
        if signature_length != _NTLM_SIGNATURE_LENGTH:
            raise self._bad("a sealed answer has a bad signature length")
        signature, sealed = payload[4:20], payload[20:]
        try:
            message = self._context.unwrap_winrm(signature, sealed)
        except spnego.exceptions.SpnegoError as exc:
            raise self._bad(f"a sealed answer does not verify ({type(exc).__name__})") from None
        if len(message) != int(length):
            raise self._bad("a sealed answer's length differs from the length it states")
        return bytes(message)

    def _tls_error(self, exc: ssl.SSLError) -> TlsError:
        return TlsError(f"{self._host}: TLS failed: {exc.reason or exc}", host=self._host)

    def _bad(self, what: str) -> BadOutputError:
        return BadOutputError(f"{self._host}: {what}", host=self._host)


def _challenge(answer: Answer, www_authenticate: str) -> bytes | None:
    """The NTLM CHALLENGE of a 401's ``WWW-Authenticate: Negotiate <token>``."""
    if answer.status != 401:
        return None
    for value in www_authenticate.split(","):
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() in ("negotiate", "ntlm") and token.strip():
            try:
                return base64.b64decode(token.strip(), validate=True)
            except ValueError:
                return None
    return None


def _certificate_hash(certificate_der: bytes) -> bytes:
    """RFC 5929 4.1: the certificate's own signature hash, but SHA-256 for MD5 or SHA-1."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes

    try:
        algorithm = x509.load_der_x509_certificate(certificate_der).signature_hash_algorithm
    except (UnsupportedAlgorithm, ValueError):
        algorithm = None
    name = "sha256"
    if isinstance(algorithm, hashes.HashAlgorithm) and algorithm.name not in ("md5", "sha1"):
        name = algorithm.name
    return hashlib.new(name, certificate_der).digest()


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused"
    if isinstance(exc, ConnectionResetError):
        return "Connection reset"
    if isinstance(exc, socket.gaierror):
        return "Name or service not known"
    if isinstance(exc, http.client.RemoteDisconnected | http.client.NotConnected):
        return "the host closed the connection"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.split("\n")[0][:200]
