"""Authentication for the lab endpoint: NTLM and Kerberos (pyspnego acceptors) with WinRM
message encryption, and Basic.

Kerberos accepts with the keytab MIT krb5 finds (``KRB5_KTNAME`` or the profile's
``default_keytab_name``: :class:`lab.kerberos.LabRealm` sets both up) and needs the Python
``gssapi`` package; NTLM reads the NTLM_USER_FILE.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import spnego
import spnego.exceptions
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
from spnego.channel_bindings import GssChannelBindings

NTLM_USER_FILE_ENV = "NTLM_USER_FILE"
ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = (
    f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
)
_BOUNDARY = b"--Encrypted Boundary"
_OCTET_STREAM_HEADER = b"\tContent-Type: application/octet-stream\r\n"
_NTLM_SIGNATURE_LENGTH = 16
# RFC 4121 wrap tokens with AES: a 16-byte header, the 16-byte encrypted filler copy and a
# 12-byte checksum; anything far outside that is not a Kerberos WinRM header
_KERBEROS_HEADER_LENGTHS = range(16, 1025)


@dataclass(frozen=True)
class AuthPolicy:
    """Which schemes a server accepts. NTLM users come from the NTLM_USER_FILE."""

    ntlm: bool = True
    basic: bool = False
    basic_users: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Kerberos through Negotiate (raw Kerberos GSS tokens, as pywinrm sends them)
    kerberos: bool = False

    def challenge_headers(self) -> list[str]:
        """WWW-Authenticate values of a 401, in the order Windows sends them."""
        values = []
        if self.ntlm or self.kerberos:
            values.append("Negotiate")
        if self.basic:
            values.append('Basic realm="WSMAN"')
        return values

    def check_basic(self, token: str) -> str | None:
        """The user name when ``token`` (base64 ``user:password``) matches, else None."""
        if not self.basic:
            return None
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, separator, password = decoded.partition(":")
        if not separator:
            return None
        for known_user, known_password in self.basic_users.items():
            if known_user.casefold() == username.casefold() and hmac.compare_digest(
                known_password.encode("utf-8"), password.encode("utf-8")
            ):
                return known_user
        return None


def write_ntlm_user_file(path: Path, users: Mapping[str, str]) -> Path:
    """Write the pyspnego acceptor's credential file, one smbpasswd-style line per account
    (``USER:UID:LM_HASH:NT_HASH:FLAGS:LCT``, ``spnego._ntlm._get_credential``).

    ``users`` maps ``DOMAIN\\user`` (or a bare ``user``) to its password. The caller
    points the NTLM_USER_FILE environment variable at the file before starting servers.

    Why hashes rather than the Heimdal ``DOMAIN:USER:PASSWORD`` form: the acceptor reads
    the file at every log-on and derives the LM hash of a plain password with pure-Python
    DES each time, a tenth of the lab's CPU per checked host in a fleet run; a Windows
    host holds the hash, not the password, so this is also the truer picture.
    """
    lines = []
    for account, password in users.items():
        domain, _, user = account.rpartition("\\")
        if not user or any(":" in part or "\n" in part for part in (domain, user)):
            raise ValueError(f"unusable NTLM account name {account!r}")
        if any(char in password for char in "\r\n"):
            raise ValueError(f"the password of {account!r} contains a line break")
        lm, nt = lmowfv1(password).hex().upper(), ntowfv1(password).hex().upper()
        lines.append(f"{account}:1000:{lm}:{nt}:[U]:LCT-00000000\n")
    # Written owner-only: the file holds password hashes.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.writelines(lines)
    return path


def ntlm_user_file_configured() -> bool:
    path = os.environ.get(NTLM_USER_FILE_ENV)
    return bool(path) and Path(path or "").is_file()


class AuthRejected(Exception):
    """The credentials were wrong (answered with 401); never carries the secret."""


def kerberos_acceptor_available() -> str | None:
    """None when a Kerberos acceptor can be built, else why not."""
    # pyspnego's GSSAPI path needs both bindings (pyspnego[kerberos])
    try:
        import gssapi  # noqa: F401
        import krb5  # noqa: F401
    except ImportError as error:
        return f"pyspnego's Kerberos needs the gssapi and krb5 packages ({error})"
    return None


def is_ntlm_token(token: bytes) -> bool:
    return token.startswith(b"NTLMSSP\x00")


#: DER of the Kerberos v5 GSS mechanism OID 1.2.840.113554.1.2.2 (RFC 1964 section 1.1):
#: an initial context token is [APPLICATION 0] { this OID, the AP-REQ }
_KRB5_MECH_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"


def is_kerberos_token(token: bytes) -> bool:
    if not token.startswith(b"\x60"):
        return False
    # skip the outer DER length (short or long form) to reach the mechanism OID
    if len(token) < 2:
        return False
    first = token[1]
    offset = 2 + (first & 0x7F if first & 0x80 else 0)
    return token[offset : offset + len(_KRB5_MECH_OID)] == _KRB5_MECH_OID


class _AcceptorSession:
    """One connection's acceptor context (pyspnego) and its WinRM message sealing
    ([MS-WSMV] 2.2.9.1: the same multipart layout for NTLM and Kerberos)."""

    protocol = ""

    def __init__(self, channel_bindings: GssChannelBindings | None = None) -> None:
        self._context = spnego.server(
            protocol=self.protocol, service="HTTP", channel_bindings=channel_bindings
        )

    @property
    def complete(self) -> bool:
        return bool(self._context.complete)

    @property
    def username(self) -> str:
        return str(self._context.client_principal or "")

    def step(self, token: bytes) -> bytes | None:
        try:
            return self._context.step(token)
        except spnego.exceptions.SpnegoError as error:
            # The exception text names the failing check, never the password.
            raise AuthRejected(type(error).__name__) from None

    def _header_length_ok(self, length: int) -> bool:
        raise NotImplementedError

    def seal(self, message: bytes) -> bytes:
        """``message`` as an encrypted multipart body (the reply to an encrypted request)."""
        wrapped = self._context.wrap_winrm(message)
        signature, sealed = wrapped.header, wrapped.data
        return (
            _BOUNDARY + b"\r\n"
            b"\tContent-Type: " + ENCRYPTED_PROTOCOL.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode()
            + b"\r\n"
            + _BOUNDARY
            + b"\r\n"
            + _OCTET_STREAM_HEADER
            + struct.pack("<i", len(signature))
            + signature
            + sealed
            + _BOUNDARY
            + b"--\r\n"
        )

    def unseal(self, body: bytes) -> bytes:
        """Decrypt an encrypted multipart request body; ValueError when it is not one."""
        parts = [part for part in body.split(_BOUNDARY + b"\r\n") if part]
        if len(parts) != 2:
            raise ValueError("an encrypted body has exactly one header and one payload part")
        header, payload = parts
        length_text = header.partition(b"Length=")[2].strip()
        if not length_text.isdigit():
            raise ValueError("the encrypted body does not state the original length")
        if payload.endswith(_BOUNDARY + b"--\r\n"):
            payload = payload[: -len(_BOUNDARY + b"--\r\n")]
        if not payload.startswith(_OCTET_STREAM_HEADER):
            raise ValueError("the encrypted payload part has no octet-stream header")
        payload = payload[len(_OCTET_STREAM_HEADER) :]
        if len(payload) < 4:
            raise ValueError("the encrypted payload is truncated")
        (signature_length,) = struct.unpack("<i", payload[:4])
        if not self._header_length_ok(signature_length) or len(payload) < 4 + signature_length:
            raise ValueError("the encrypted payload has a bad signature length")
        header, sealed = payload[4 : 4 + signature_length], payload[4 + signature_length :]
        try:
            message = self._context.unwrap_winrm(header, sealed)
        except spnego.exceptions.SpnegoError as error:
            problem = f"the encrypted payload does not verify ({type(error).__name__})"
            raise ValueError(problem) from None
        if len(message) != int(length_text):
            raise ValueError("the decrypted length differs from the stated length")
        return bytes(message)


class NtlmSession(_AcceptorSession):
    protocol = "ntlm"

    def _header_length_ok(self, length: int) -> bool:
        return length == _NTLM_SIGNATURE_LENGTH


class KerberosSession(_AcceptorSession):
    """Accepts an AP-REQ in one step; the AP-REP it returns goes back to the client in the
    success reply's WWW-Authenticate (mutual authentication, which pywinrm requires)."""

    protocol = "kerberos"

    def _header_length_ok(self, length: int) -> bool:
        return length in _KERBEROS_HEADER_LENGTHS


def tls_channel_bindings(certificate_pem: Path) -> GssChannelBindings:
    """The ``tls-server-end-point`` binding of a server certificate (RFC 5929 4.1: the
    certificate's signature hash, SHA-256 for MD5 or SHA-1), which an NTLM acceptor given
    it then requires of every client, as a Windows host with CbtHardeningLevel Strict."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    certificate = x509.load_pem_x509_certificate(certificate_pem.read_bytes())
    algorithm = certificate.signature_hash_algorithm
    if algorithm is None or isinstance(algorithm, hashes.MD5 | hashes.SHA1):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate.public_bytes(Encoding.DER))
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest.finalize())


def is_encrypted_content_type(content_type: str) -> bool:
    lowered = content_type.lower()
    return lowered.startswith("multipart/encrypted") and ENCRYPTED_PROTOCOL.lower() in lowered


def parse_authorization(header: str) -> tuple[str, str]:
    """``("ntlm"|"negotiate"|"basic"|other, token)`` from an Authorization header."""
    scheme, _, token = header.strip().partition(" ")
    return scheme.lower(), token.strip()
