"""The WinRM transport options Ansible users expect: message encryption, the Kerberos
hostname override, certificate validation and CA path, from the config to the target and
into the pywinrm Protocol; bad values are configuration errors that change nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import winrm.transport

from bot.config import Settings, load_settings
from bot.inventory import Inventory
from checks.errors import ConfigError
from handlers.target import HostTarget
from handlers.winrm import WinrmClient, WinrmSettings

BASE = """
[winrm]
transport = "kerberos"
username = "svc-wsusbot@CORP.EXAMPLE.COM"
message_encryption = "always"
ca_bundle = "/etc/ssl/corp-ca.pem"

[[servers]]
name = "wsus01"
address = "10.0.0.5"
winrm_url = "https://10.0.0.5:5986/wsman"
kerberos_hostname_override = "wsus01.corp.example.com"

[[clients]]
name = "xp01"
address = "10.0.1.21"
server = "wsus01"
message_encryption = "never"
verify_tls = false

[[patterns]]
match = "*.corp.example.com"
role = "client"
kerberos_hostname_override = "{host}"
winrm_url = "http://{host}:5985/wsman"
"""


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "wsusbot.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={})


def test_the_options_reach_each_host_target(tmp_path: Path) -> None:
    inventory = Inventory(load(tmp_path, BASE))
    server = inventory.resolve("wsus01")
    assert server.transport == "kerberos"
    assert server.message_encryption == "always"
    assert server.kerberos_hostname_override == "wsus01.corp.example.com"
    assert server.verify_tls is True
    assert server.ca_bundle == Path("/etc/ssl/corp-ca.pem")
    client = inventory.resolve("xp01")
    assert client.message_encryption == "never"
    assert client.kerberos_hostname_override is None
    assert client.verify_tls is False
    pattern = inventory.resolve("pc-7.corp.example.com")
    assert pattern.kerberos_hostname_override == "pc-7.corp.example.com"
    assert pattern.message_encryption == "always"


def test_message_encryption_defaults_to_auto(tmp_path: Path) -> None:
    settings = load(tmp_path, "[[clients]]\nname = 'a'\naddress = '10.0.0.1'\n")
    assert settings.winrm.message_encryption == "auto"
    assert Inventory(settings).resolve("a").message_encryption == "auto"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[winrm]\nmessage_encryption = "sometimes"\n', "winrm.message_encryption"),
        (
            '[[servers]]\nname = "w"\naddress = "w"\nkerberos_hostname_override = "HTTP/w"\n',
            "servers.0.kerberos_hostname_override",
        ),
        (
            '[[servers]]\nname = "w"\naddress = "w"\nkerberos_hostname_override = "w.corp@CORP"\n',
            "servers.0.kerberos_hostname_override",
        ),
        ('[[clients]]\nname = "c"\naddress = "c"\nmessage_encryption = 1\n', "clients.0"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load(tmp_path, text)


def target(**overrides: Any) -> HostTarget:
    fields: dict[str, Any] = {
        "name": "h1",
        "role": "client",
        "address": "127.0.0.1",
        # nothing listens on port 9: a request that left would fail differently
        "winrm_url": "https://127.0.0.1:9/wsman",
        "transport": "kerberos",
        "username": "svc@CORP.EXAMPLE.COM",
        "password_file": None,
        "verify_tls": True,
        "ca_bundle": None,
    }
    fields.update(overrides)
    return HostTarget(**fields)


def protocol_options(monkeypatch: pytest.MonkeyPatch, host: HostTarget) -> dict[str, Any]:
    """The keyword arguments the client gives pywinrm's Protocol for ``host``."""
    seen: dict[str, Any] = {}

    class Recording:
        def __init__(self, **options: Any) -> None:
            seen.update(options)
            self.transport = winrm.transport.Transport(
                endpoint=options["endpoint"], auth_method="plaintext", username="u", password="p"
            )

    monkeypatch.setattr("handlers.winrm.WinrmProtocol", Recording)
    monkeypatch.setattr(winrm.transport, "HAVE_KERBEROS", True)
    client = WinrmClient(WinrmSettings(connect_retries=0))
    client.build_session(host, None, time.monotonic() + 30)
    return seen


def test_kerberos_options_reach_pywinrm_without_a_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = protocol_options(
        monkeypatch,
        target(
            message_encryption="always",
            kerberos_hostname_override="h1.corp.example.com",
            ca_bundle=Path("/etc/ssl/corp-ca.pem"),
        ),
    )
    assert options["transport"] == "kerberos"
    assert options["message_encryption"] == "always"
    assert options["kerberos_hostname_override"] == "h1.corp.example.com"
    assert options["username"] == "svc@CORP.EXAMPLE.COM"
    assert options["password"] is None
    assert options["server_cert_validation"] == "validate"
    assert options["ca_trust_path"] == "/etc/ssl/corp-ca.pem"


def test_validation_off_reaches_pywinrm(monkeypatch: pytest.MonkeyPatch) -> None:
    options = protocol_options(monkeypatch, target(transport="credssp", verify_tls=False))
    assert options["server_cert_validation"] == "ignore"
    assert options["message_encryption"] == "auto"
    assert "kerberos_hostname_override" not in options


def test_validation_off_reaches_the_lean_client() -> None:
    """NTLM hosts go through handlers/wsman: verify_tls = false is a context that checks
    neither the chain nor the name; true is certifi's (or the host's CA bundle)."""
    import ssl

    client = WinrmClient(WinrmSettings())
    unchecked = client._tls_context(target(transport="ntlm", verify_tls=False))
    assert unchecked.verify_mode is ssl.CERT_NONE
    assert unchecked.check_hostname is False
    checked = client._tls_context(target(transport="ntlm", ca_bundle=None))
    assert checked.verify_mode is ssl.CERT_REQUIRED
    assert checked.check_hostname is True
    assert client._tls_context(target(transport="ntlm", verify_tls=False)) is unchecked


@pytest.mark.parametrize("transport", ["basic", "certificate"])
def test_always_encrypting_a_transport_that_cannot_is_a_config_error(transport: str) -> None:
    with pytest.raises(ConfigError, match="message_encryption"):
        WinrmClient(WinrmSettings(connect_retries=0)).run(
            target(transport=transport, message_encryption="always"),
            None,
            "x",
            deadline=time.monotonic() + 10,
        )


def test_kerberos_without_pykerberos_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(winrm.transport, "HAVE_KERBEROS", False)
    with pytest.raises(ConfigError, match=r"wsusbot\[kerberos\]"):
        WinrmClient(WinrmSettings(connect_retries=0)).run(
            target(), None, "x", deadline=time.monotonic() + 10
        )
