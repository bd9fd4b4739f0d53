"""Kerberos end to end: a real MIT KDC on loopback (lab/kerberos.py), the lab's
WS-Management endpoint accepting with a keytab (pyspnego over GSSAPI), and stock pywinrm
(transport="kerberos": its requests-kerberos with pykerberos) authenticating with a
ticket that ``kinit`` got from a keytab. Over http:// the SOAP bodies are sealed with the
Kerberos session key ([MS-WSMV] 2.2.9.1); over https:// TLS carries them.

The KDC needs Debian's krb5-kdc, krb5-admin-server and krb5-user, and the Python side the
kerberos and lab-kerberos extras; scripts/test installs all of them. Where they are
missing these tests skip, naming what is missing, except under CI, where they fail.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.services import Services
from checks.errors import AuthenticationFailedError, ConfigError, TlsError
from checks.model import Status
from handlers.target import HostTarget
from handlers.winrm import WinrmClient, WinrmSettings
from lab.estate import dumps_toml
from lab.kerberos import LabRealm, missing_tools
from lab.wsman import (
    AuthPolicy,
    CommandRequest,
    ExecResult,
    TlsFiles,
    WsmanServer,
    generate_tls_files,
)
from lab.wsman.auth import kerberos_acceptor_available
from tests.integration.lab_support import check_hosts, lab_services

SPN_HOST = "wsus01.lab.test"
USER = "wsusbot"


def _missing() -> list[str]:
    missing = missing_tools()
    acceptor = kerberos_acceptor_available()
    if acceptor:
        missing.append(acceptor)
    try:
        import kerberos  # noqa: F401
    except ImportError:
        missing.append("pykerberos (the kerberos extra: pip install -e '.[kerberos]')")
    return missing


@pytest.fixture(scope="module")
def requirements() -> None:
    missing = _missing()
    if missing:
        message = "Kerberos end to end needs: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " (scripts/test installs them)")
        pytest.skip(message)


@dataclass
class Kerberos:
    realm: LabRealm
    keytab: Path
    principal: str


@pytest.fixture
def kerberos(
    requirements: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Kerberos]:
    realm = LabRealm.create(tmp_path / "realm")
    try:
        # the process's MIT krb5 (pykerberos in the client, gssapi in the lab acceptor)
        # reads these on every new context
        for name, value in realm.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("KRB5_CLIENT_KTNAME", raising=False)
        realm.add_principal(f"HTTP/{SPN_HOST}")
        keytab = tmp_path / "wsusbot.keytab"
        principal = realm.add_principal(USER, keytab=keytab)
        realm.kinit(USER, keytab=keytab)
        yield Kerberos(realm, keytab, principal)
    finally:
        realm.stop()


def echo(request: CommandRequest) -> ExecResult:
    return ExecResult(stdout=b'{"got": %d}' % len(request.stdin))


def serve(tls: TlsFiles | None = None) -> WsmanServer:
    return WsmanServer(
        echo, address="127.0.0.1", port=0, tls=tls, auth=AuthPolicy(ntlm=False, kerberos=True)
    )


def target(url: str, **overrides: object) -> HostTarget:
    fields: dict[str, object] = {
        "name": "wsus01",
        "role": "server",
        "address": "127.0.0.1",
        "winrm_url": url,
        "transport": "kerberos",
        "username": f"{USER}@LAB.TEST",
        "password_file": None,
        "verify_tls": True,
        "ca_bundle": None,
        "kerberos_hostname_override": SPN_HOST,
    }
    fields.update(overrides)
    return HostTarget(**fields)  # type: ignore[arg-type]


def client() -> WinrmClient:
    return WinrmClient(WinrmSettings(operation_timeout_s=2, read_timeout_s=4, connect_retries=0))


def deadline() -> float:
    return time.monotonic() + 30


def test_kerberos_over_http_seals_every_message(kerberos: Kerberos) -> None:
    with serve().start() as server:
        result = client().run(target(server.url), None, "x" * 70_000, deadline=deadline())
        stats = server.stats()
    assert result.exit_code == 0
    assert result.stdout.startswith(b'{"got": 70000')
    # Create, Command, Send, Receive, Signal, Delete: all of them encrypted
    assert stats.encrypted_requests >= 5
    assert stats.auth_failures == 0


def test_message_encryption_never_sends_clear_soap(kerberos: Kerberos) -> None:
    with serve().start() as server:
        result = client().run(
            target(server.url, message_encryption="never"), None, "x", deadline=deadline()
        )
        stats = server.stats()
    assert result.exit_code == 0
    assert stats.encrypted_requests == 0


def test_kerberos_over_https_validates_the_certificate(kerberos: Kerberos, tmp_path: Path) -> None:
    tls = generate_tls_files(tmp_path / "tls", addresses=("127.0.0.1",))
    ca = tls.ca_cert
    with serve(tls).start() as server:
        # auto over https: TLS alone carries the messages
        result = client().run(target(server.url, ca_bundle=ca), None, "y" * 10, deadline=deadline())
        assert result.stdout.startswith(b'{"got": 10')
        assert server.stats().encrypted_requests == 0
        # always: sealed inside TLS as well
        server.reset_stats()
        client().run(
            target(server.url, ca_bundle=ca, message_encryption="always"),
            None,
            "y",
            deadline=deadline(),
        )
        assert server.stats().encrypted_requests >= 5
        # without the CA the certificate does not validate; validation off connects
        with pytest.raises(TlsError):
            client().run(target(server.url), None, "y", deadline=deadline())
        result = client().run(target(server.url, verify_tls=False), None, "y", deadline=deadline())
        assert result.exit_code == 0


def test_without_the_hostname_override_the_service_principal_is_unknown(
    kerberos: Kerberos,
) -> None:
    with serve().start() as server:
        # the URL names 127.0.0.1: HTTP/127.0.0.1 is not in the realm
        with pytest.raises(AuthenticationFailedError, match="not found in Kerberos database"):
            client().run(
                target(server.url, kerberos_hostname_override=None), None, "x", deadline=deadline()
            )
        assert server.stats().requests == 0, "no request leaves without a service ticket"


def test_without_a_ticket_kerberos_fails_clearly(
    kerberos: Kerberos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty-ccache'}")
    with serve().start() as server, pytest.raises(AuthenticationFailedError, match="Kerberos"):
        client().run(target(server.url), None, "x", deadline=deadline())


def test_a_client_keytab_gets_the_ticket_without_kinit(
    kerberos: Kerberos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # how a service runs (docs/config.md "Kerberos"): MIT krb5 gets the initial ticket
    # from KRB5_CLIENT_KTNAME into an empty cache by itself
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'service-ccache'}")
    monkeypatch.setenv("KRB5_CLIENT_KTNAME", f"FILE:{kerberos.keytab}")
    with serve().start() as server:
        result = client().run(target(server.url), None, "z" * 3, deadline=deadline())
    assert result.stdout.startswith(b'{"got": 3')
    assert (tmp_path / "service-ccache").is_file()


def test_a_domain_backslash_user_is_a_config_error(kerberos: Kerberos) -> None:
    with serve().start() as server, pytest.raises(ConfigError, match="principal"):
        client().run(target(server.url, username="LAB\\wsusbot"), None, "x", deadline=deadline())


def test_kerberos_is_refused_by_an_ntlm_only_endpoint(kerberos: Kerberos) -> None:
    server = WsmanServer(echo, address="127.0.0.1", port=0, auth=AuthPolicy(ntlm=False))
    with server.start(), pytest.raises(AuthenticationFailedError):
        client().run(target(server.url), None, "x", deadline=deadline())


def test_the_collector_checks_a_lab_host_over_kerberos(kerberos: Kerberos, tmp_path: Path) -> None:
    """``[winrm] transport = "kerberos"`` through the bot's own config loader, inventory,
    runner and collector, against a lab client whose endpoint accepts Kerberos only."""
    spn = "ws-client.lab.test"
    kerberos.realm.add_principal(f"HTTP/{spn}")
    with lab_services("healthy", tmp_path) as (estate, _ntlm_services, _config):
        name = next(h.name for h in estate.hosts if h.role == "client")
        host = estate.host(name)
        endpoint = WsmanServer(
            host,
            address=host.address,
            port=0,
            auth=AuthPolicy(ntlm=False, kerberos=True),
            machine_name=name,
        )
        with endpoint.start():
            config = estate.config_dict()
            config["winrm"] = {
                "transport": "kerberos",
                "username": kerberos.principal,
                "message_encryption": "auto",
                "operation_timeout_s": 10,
                "read_timeout_s": 15,
            }
            config["clients"] = [
                {**c, "winrm_url": endpoint.url, "kerberos_hostname_override": spn}
                for c in config["clients"]
                if c["name"] == name
            ]
            path = tmp_path / "kerberos.toml"
            path.write_text(dumps_toml(config), encoding="utf-8")
            services = Services.open(load_settings(path, env={}))
            try:
                target = services.inventory.resolve(name)
                assert target.transport == "kerberos"
                assert target.kerberos_hostname_override == spn
                report = check_hosts(services, [name])[name]
            finally:
                services.close()
            stats = endpoint.stats()
    assert report.unreachable_reason is None, report.unreachable_reason
    assert Status.UNKNOWN not in {f.status for f in report.findings}
    assert report.verdict is Status.PASS
    assert stats.auth_failures == 0
    assert stats.encrypted_requests >= 5
