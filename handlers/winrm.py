"""Run probe scripts on a host over WinRM, within a deadline.

One shell per host visit, one command per script (docs/architecture.md: collect once): the
command line carries a tiny stager and the probe script travels on stdin (docs/probes.md,
"Transport"), so the Windows command-line limit never caps a probe. NTLM hosts (the
default) go through the lean client in :mod:`handlers.wsman`; Kerberos, CredSSP, Basic and
certificate hosts through pywinrm. Every foreign exception is translated here
into the :class:`~checks.errors.CollectionError` family; no message carries the password.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import ssl
import time
import types
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import certifi
import requests
import winrm.transport
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol as WinrmProtocol

from checks.errors import (
    AuthenticationFailedError,
    BadOutputError,
    CollectionError,
    CollectionTimeoutError,
    ConfigError,
    HostUnreachableError,
    RemoteError,
    TlsError,
)
from checks.secret import Secret
from handlers.probes import compose
from handlers.target import HostTarget
from handlers.wsman.channel import NtlmChannel
from handlers.wsman.envelopes import Envelopes, Output
from handlers.wsman.shell import CommandOutput, RemoteShell, gather_output

log = logging.getLogger(__name__)


class EnvironmentFreeSession(requests.Session):
    """A requests session that never consults the process environment: no proxy
    variables, no netrc, no CA-bundle variables; WinRM traffic goes straight to the host.

    Why: a session that trusts the environment asks requests' ``should_bypass_proxies``
    on every request, and with pywinrm's ``proxy=None`` (``no_proxy="*"``) that function
    *writes* ``os.environ["no_proxy"]`` around a lookup and puts it back, without a lock
    (psf/requests#4997). Under fan-out one thread deletes the key another has just put
    back: ``KeyError: 'no_proxy'`` surfaced as that host's "bad output", or the variable
    stayed set for the whole process. With ``trust_env`` off that code is never reached.
    """

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False


class _RequestsWithoutEnvironment:
    """The ``requests`` module as pywinrm's ``Transport.build_session`` sees it below: the
    same module, except that the session it creates is an EnvironmentFreeSession."""

    Session = EnvironmentFreeSession

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)


# pywinrm creates its session inside ``Transport.build_session`` (auth, TLS, message
# encryption, and the first request, all in one) with ``requests.Session()``: run that very
# code with ``requests`` bound to the shim above, rather than copying it or patching
# pywinrm or requests for the whole process
_BUILD_SESSION = types.FunctionType(
    winrm.transport.Transport.build_session.__code__,
    {**vars(winrm.transport), "requests": _RequestsWithoutEnvironment()},
    "build_session",
    winrm.transport.Transport.build_session.__defaults__,
    winrm.transport.Transport.build_session.__closure__,
)


def environment_free(protocol: WinrmProtocol) -> WinrmProtocol:
    """``protocol`` with a transport whose sessions never read (or write) os.environ."""
    transport = protocol.transport
    transport.build_session = types.MethodType(_BUILD_SESSION, transport)  # type: ignore[method-assign]
    return protocol


@dataclass(frozen=True, slots=True)
class WinrmSettings:
    operation_timeout_s: float = 20.0
    read_timeout_s: float = 30.0
    allow_insecure_basic: bool = False
    connect_retries: int = 2
    #: first backoff delay; doubles each retry
    retry_backoff_s: float = 0.5


@dataclass(frozen=True, slots=True)
class ScriptResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


Sleep = Callable[[float], None]


class ShellSession(Protocol):
    """A logged-on shell on one host: scripts run one after another, then close()."""

    def run(self, script: str, deadline: float) -> ScriptResult: ...

    def close(self) -> None: ...


class _LeanShell:
    """The lean client's shell (handlers/wsman): the stager on the command line, the
    script on stdin (docs/probes.md, "Transport")."""

    def __init__(self, shell: RemoteShell, host: str, password: Secret | None) -> None:
        self._shell = shell
        self._host = host
        self._password = password

    def run(self, script: str, deadline: float) -> ScriptResult:
        with _translated(self._host, self._password, stage="run"):
            out = self._shell.run(
                compose.encoded_command(compose.stager()), script.encode("utf-8"), deadline
            )
        return ScriptResult(out.stdout, out.stderr, out.exit_code)

    def close(self) -> None:
        self._shell.close()


class _PywinrmShell:
    """Kerberos, CredSSP, Basic and certificate hosts: pywinrm's Protocol, one shell."""

    def __init__(
        self, protocol: WinrmProtocol, shell_id: str, host: str, password: Secret | None
    ) -> None:
        self._protocol = protocol
        self._shell_id = shell_id
        self._host = host
        self._password = password

    @classmethod
    def open(
        cls, protocol: WinrmProtocol, target: HostTarget, password: Secret | None
    ) -> _PywinrmShell:
        try:
            with _translated(target.name, password, stage="connect"):
                shell_id: str = protocol.open_shell(codepage=65001)
        except BaseException:
            _quietly(lambda: protocol.transport.close_session())
            raise
        return cls(protocol, shell_id, target.name, password)

    def run(self, script: str, deadline: float) -> ScriptResult:
        protocol, shell_id = self._protocol, self._shell_id
        with _translated(self._host, self._password, stage="start"):
            command_id = protocol.run_command(shell_id, compose.encoded_command(compose.stager()))
        try:
            with _translated(self._host, self._password, stage="run"):
                protocol.send_command_input(shell_id, command_id, script.encode("utf-8"), end=True)
                output = self._receive(command_id, deadline)
        except CollectionError as exc:
            # the command had started on the host: what it did there is unknown
            exc.delivered = True
            raise
        # no Signal(terminate) for a finished command: the Delete at close() ends the
        # shell and everything in it ([MS-WSMV] 3.1.4.4.1: "Any commands in progress
        # SHOULD be immediately terminated and all resources for the Shell SHOULD be
        # freed", https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/d2855e51-d060-40e2-a7bc-972ae8b403de)
        return ScriptResult(output.stdout, output.stderr, output.exit_code)

    def close(self) -> None:
        _quietly(lambda: self._protocol.close_shell(self._shell_id))
        _quietly(lambda: self._protocol.transport.close_session())

    def _receive(self, command_id: str, deadline: float) -> CommandOutput:
        protocol, shell_id = self._protocol, self._shell_id

        def once(_left: float) -> Output | None:
            # pywinrm's Receive always asks for the session's OperationTimeout
            try:
                out, err, code, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                return None  # expected while a long command runs: poll again
            return Output(out, err, code if done else None)

        def terminate() -> None:
            _quietly(lambda: protocol.cleanup_command(shell_id, command_id))

        return gather_output(self._host, once, terminate, deadline)


class WinrmClient:
    """Synchronous (pywinrm is); the async runner calls it in a worker thread."""

    def __init__(self, settings: WinrmSettings, *, sleep: Sleep = time.sleep) -> None:
        self._settings = settings
        self._sleep = sleep
        #: sha256(password) -> its NTLM ``LM:NT`` hash form (see _ntlm_password)
        self._ntlm_hashes: dict[str, str] = {}
        self._envelope_cache: dict[tuple[str, int], Envelopes] = {}
        self._tls_contexts: dict[tuple[bool, str | None], ssl.SSLContext] = {}

    def run(
        self,
        target: HostTarget,
        password: Secret | None,
        script: str,
        *,
        deadline: float,
        retry_connect: bool = True,
    ) -> ScriptResult:
        """Run ``script`` on ``target``; ``deadline`` is a ``time.monotonic()`` value.

        Only failures to *connect* (before any shell exists) are retried, and only when
        ``retry_connect``: a fix is never retried (its command may have run).
        """
        with self._session(target, password, deadline, retry_connect) as shell:
            return shell.run(script, deadline)

    def session(
        self,
        target: HostTarget,
        password: Secret | None,
        *,
        deadline: float,
        retry_connect: bool = True,
    ) -> contextlib.AbstractContextManager[ShellSession]:
        """One logged-on shell on ``target`` for several scripts in turn (a server's bundle
        and each further inventory page): one log-on and one shell instead of one each."""
        return self._session(target, password, deadline, retry_connect)

    @contextlib.contextmanager
    def _session(
        self, target: HostTarget, password: Secret | None, deadline: float, retry_connect: bool
    ) -> Iterator[ShellSession]:
        self._refuse_insecure(target)
        shell = self._open(target, password, deadline, retry_connect)
        try:
            yield shell
        finally:
            shell.close()

    def _open(
        self, target: HostTarget, password: Secret | None, deadline: float, retry_connect: bool
    ) -> ShellSession:
        attempts = 1 + (self._settings.connect_retries if retry_connect else 0)
        delay = self._settings.retry_backoff_s
        for attempt in range(1, attempts + 1):
            try:
                if target.transport == "ntlm":
                    return self._open_lean(target, password, deadline)
                protocol = self.build_session(target, password, deadline)
                return _PywinrmShell.open(protocol, target, password)
            except HostUnreachableError:
                remaining = deadline - time.monotonic()
                if attempt == attempts or remaining <= delay:
                    raise
                log.info(
                    "winrm connect to %s failed; retry %d in %.1fs", target.name, attempt, delay
                )
                self._sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover - loop always returns/raises

    def _open_lean(
        self, target: HostTarget, password: Secret | None, deadline: float
    ) -> ShellSession:
        """NTLM hosts: the lean client (handlers/wsman), same rules as pywinrm's."""
        operation, read = self._timeouts(target, deadline)
        if not target.username or password is None:
            raise ConfigError(
                f"{target.name}: WinRM NTLM needs a username and a password "
                "(winrm.username, winrm.password_file)"
            )
        https = target.winrm_url.lower().startswith("https")
        encrypt = target.message_encryption == "always" or (
            target.message_encryption == "auto" and not https
        )
        channel = NtlmChannel(
            target.name,
            target.winrm_url,
            target.username,
            self._ntlm_password(password.reveal()),
            encrypt=encrypt,
            timeout_s=read,
            tls_context=self._tls_context(target) if https else None,
        )
        shell = RemoteShell(target.name, channel, self._envelopes(target.winrm_url, operation))
        with _translated(target.name, password, stage="connect"):
            try:
                shell.open()
            except BaseException:
                shell.close()
                raise
        return _LeanShell(shell, target.name, password)

    def _envelopes(self, endpoint: str, operation_timeout_s: int) -> Envelopes:
        key = (endpoint, operation_timeout_s)
        messages = self._envelope_cache.get(key)
        if messages is None:
            if len(self._envelope_cache) > 10_000:
                self._envelope_cache.clear()
            messages = self._envelope_cache[key] = Envelopes(endpoint, operation_timeout_s)
        return messages

    def _tls_context(self, target: HostTarget) -> ssl.SSLContext:
        """One context per trust setting: loading a CA bundle costs milliseconds."""
        key = (target.verify_tls, str(target.ca_bundle) if target.ca_bundle else None)
        context = self._tls_contexts.get(key)
        if context is None:
            try:
                context = tls_context(target.verify_tls, target.ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"{target.name}: cannot load the CA bundle {target.ca_bundle}: "
                    f"{getattr(exc, 'strerror', None) or exc}"
                ) from None
            self._tls_contexts[key] = context
        return context

    def _timeouts(self, target: HostTarget, deadline: float) -> tuple[int, int]:
        """The WS-Management operation timeout and the HTTP read timeout for a deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0.5:
            raise CollectionTimeoutError(
                f"{target.name}: deadline passed before connecting", host=target.name
            )
        # the server may hold a Receive for the whole operation timeout, so it must end
        # before the deadline, and the HTTP read timeout must exceed it (pywinrm refuses
        # a read timeout that does not)
        operation = max(1, int(min(self._settings.operation_timeout_s, remaining - 0.5)))
        read = max(operation + 1, int(min(self._settings.read_timeout_s, remaining + 0.5)))
        return operation, read

    # ------------------------------------------------------------------ internals

    def _refuse_insecure(self, target: HostTarget) -> None:
        if (
            target.transport == "basic"
            and target.winrm_url.lower().startswith("http://")
            and not self._settings.allow_insecure_basic
        ):
            raise ConfigError(
                f"{target.name}: WinRM Basic authentication over plain HTTP sends the password "
                "in clear text; use https, another transport, or set "
                "winrm.allow_insecure_basic = true"
            )

    def build_session(
        self, target: HostTarget, password: Secret | None, deadline: float
    ) -> WinrmProtocol:
        """The one place a WinRM session (pywinrm ``Protocol``) is built for a host: the
        transport, credentials, TLS and timeouts. Nothing is sent until the first call."""
        operation, read = self._timeouts(target, deadline)
        options: dict[str, Any] = {
            "endpoint": target.winrm_url,
            "transport": "ssl"
            if target.transport == "basic" and target.winrm_url.startswith("https")
            else ("plaintext" if target.transport == "basic" else target.transport),
            "username": target.username,
            # NTLM hosts never come here (the lean client, _open_lean, takes the hash form)
            "password": password.reveal() if password else None,
            "server_cert_validation": "validate" if target.verify_tls else "ignore",
            "ca_trust_path": str(target.ca_bundle) if target.ca_bundle else None,
            "operation_timeout_sec": operation,
            "read_timeout_sec": read,
            # "auto": sealed over http:// (NTLM, Kerberos, CredSSP), TLS alone over https
            "message_encryption": target.message_encryption,
            # proxies from the environment must not see WinRM traffic (and the session
            # must not read the environment at all: see EnvironmentFreeSession)
            "proxy": None,
        }
        if target.message_encryption == "always" and target.transport in ("basic", "certificate"):
            raise ConfigError(
                f"{target.name}: message_encryption = 'always' needs NTLM, Kerberos or CredSSP; "
                f"{target.transport} has no message encryption (https protects it)"
            )
        if target.transport == "certificate":
            options["cert_pem"] = str(target.cert_pem) if target.cert_pem else None
            options["cert_key_pem"] = str(target.cert_key_pem) if target.cert_key_pem else None
        if target.transport == "kerberos":
            # pywinrm's Kerberos (its vendored requests-kerberos) needs pykerberos; without
            # it the failure would come only at the first request, as a transport error
            if not winrm.transport.HAVE_KERBEROS:
                raise ConfigError(
                    f"{target.name}: WinRM transport 'kerberos' needs pykerberos: install "
                    "wsusbot[kerberos] (building it needs the GSSAPI headers, Debian "
                    "libkrb5-dev)"
                )
            if target.username and "\\" in target.username:
                raise ConfigError(
                    f"{target.name}: a Kerberos username is a principal (user@REALM) or "
                    f"nothing (the ticket cache's default), not {target.username!r}"
                )
            # the ticket comes from the credential cache (KRB5CCNAME) or the client keytab
            # (KRB5_CLIENT_KTNAME), never from a password; the username picks the principal
            options["password"] = None
            options["kerberos_hostname_override"] = target.kerberos_hostname_override
        try:
            return environment_free(WinrmProtocol(**options))
        except (WinRMError, ValueError, ImportError) as exc:
            raise ConfigError(
                f"{target.name}: cannot use WinRM transport {target.transport!r}: "
                f"{type(exc).__name__}"
            ) from None

    def _ntlm_password(self, password: str) -> str:
        """The password as pyspnego's ``LM:NT`` hash form, computed once per password.

        Why: pyspnego derives both hashes from a plain password for every new context,
        and its LM hash is pure-Python DES, ~8 % of the bot's CPU per host in a fleet
        check. pyspnego takes ``'<lm hex>:<nt hex>'`` in place of the password for NTLM
        ("A user does not need to specify their actual plaintext password they can
        specify the LM and NT hash", spnego/_ntlm_raw/crypto.py, _NTLM_HASH_PATTERN;
        ``spnego._credential.unify_credentials``). The hash is as secret as the password
        and is scrubbed from messages the same way.
        """
        # keyed by a digest: the cache must not keep the password itself for the process's
        # life (the hash form it holds is scrubbed from every message like the password)
        key = hashlib.sha256(password.encode("utf-8")).hexdigest()
        cached = self._ntlm_hashes.get(key)
        if cached is None:
            try:
                from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
            except ImportError:  # pragma: no cover - another pyspnego layout: plain password
                return password
            cached = f"{lmowfv1(password).hex()}:{ntowfv1(password).hex()}"
            self._ntlm_hashes[key] = cached
        return cached


def tls_context(verify_tls: bool, ca_bundle: Path | None) -> ssl.SSLContext:
    """How the bot trusts an https WinRM host: the host's CA bundle, else certifi's (what
    requests verifies pywinrm's hosts with), or no validation at all when the inventory
    says so. ``wsusbot doctor`` checks the handshake with this same context."""
    if not verify_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else certifi.where())


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception as exc:
        log.debug("winrm clean-up step failed: %s", type(exc).__name__)


class _translated:
    """Context manager mapping pywinrm/requests/XML errors onto CollectionError."""

    def __init__(self, host: str, password: Secret | None, *, stage: str) -> None:
        self._host = host
        self._password = password
        self._stage = stage

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> Literal[False]:
        if exc is None or isinstance(exc, CollectionError) or not isinstance(exc, Exception):
            return False
        raise self._translate(exc) from None

    def _scrub(self, text: str) -> str:
        if self._password and self._password.reveal():
            text = text.replace(self._password.reveal(), "********")
        # the NTLM hash form (hex digits) of the password is as secret as the password
        text = _HASH_HEX.sub("********", text)
        return text[:300]

    def _translate(self, exc: Exception) -> CollectionError:
        host = self._host
        if isinstance(exc, InvalidCredentialsError):
            return AuthenticationFailedError(
                f"{host}: WinRM rejected the credentials (HTTP 401)", host=host
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return TlsError(f"{host}: TLS failed: {self._scrub(_root_message(exc))}", host=host)
        if isinstance(exc, requests.exceptions.Timeout):
            return CollectionTimeoutError(f"{host}: WinRM did not answer in time", host=host)
        if isinstance(exc, requests.exceptions.ConnectionError):
            return HostUnreachableError(
                f"{host}: cannot connect to WinRM: {self._scrub(_root_message(exc))}", host=host
            )
        if isinstance(exc, WSManFaultError):
            return RemoteError(
                f"{host}: WS-Management fault {exc.wsman_fault_code or exc.fault_code}: "
                f"{self._scrub(str(exc.reason or ''))}",
                host=host,
            )
        if isinstance(exc, WinRMTransportError):
            return RemoteError(f"{host}: WinRM HTTP error {exc.code}", host=host)
        if isinstance(exc, ET.ParseError | KeyError | AttributeError | IndexError):
            return BadOutputError(
                f"{host}: the WinRM answer is not valid WS-Management XML ({type(exc).__name__})",
                host=host,
            )
        if type(exc).__module__.startswith("winrm.vendor.requests_kerberos"):
            # GSSAPI's own words, e.g. "Server not found in Kerberos database"
            reason = re.findall(r"\('([^']+)', -?\d+\)", str(exc))
            return AuthenticationFailedError(
                f"{host}: Kerberos failed: {self._scrub(reason[-1] if reason else str(exc))}",
                host=host,
            )
        if type(exc).__module__.startswith("spnego"):
            return AuthenticationFailedError(
                f"{host}: NTLM/Negotiate failed ({type(exc).__name__})", host=host
            )
        return CollectionError(
            f"{host}: WinRM {self._stage} failed: {type(exc).__name__}: {self._scrub(str(exc))}",
            host=host,
        )


_HASH_HEX = re.compile(r"[0-9a-fA-F]{32}")


def _root_message(exc: BaseException) -> str:
    """The innermost cause: 'Connection refused' rather than urllib3's wrapper text."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        nxt = seen.__cause__ or seen.__context__
        assert nxt is not None
        seen = nxt
    message = str(seen) or type(seen).__name__
    for marker in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "No route to host",
        "certificate verify failed",
        "Connection reset",
    ):
        if marker in message:
            return marker
    return message.split("\n")[0]
