from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.inventory import Inventory, validate_host_argument
from checks.errors import UnknownHostError, UsageError


def inventory() -> Inventory:
    settings = Settings.model_validate(
        {
            "servers": [
                {"name": "wsus01", "address": "10.0.0.5", "wsus_url": "http://wsus01:8530"},
            ],
            "clients": [
                {"name": "xp01", "address": "10.0.1.21", "server": "wsus01", "groups": ["xp"]},
            ],
            "patterns": [{"match": "*.corp.example", "role": "client", "server": "wsus01"}],
        }
    )
    return Inventory(settings)


@pytest.mark.parametrize(
    "text", ["wsus01", "pc-01.corp.example", "10.0.0.5", "fe80::1", "WSUS01.", " xp01 "]
)
def test_valid_host_arguments(text: str) -> None:
    assert validate_host_argument(text) == text.strip().rstrip(".")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "wsus01; rm -rf /",
        "$(whoami)",
        "a b",
        "-leading",
        "x" * 300,
        "host/../x",
        "`calc`",
        "h\nost",
        "wsus01'",
    ],
)
def test_hostile_or_malformed_host_arguments_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        validate_host_argument(text)


def test_resolution_by_name_role_and_server_url() -> None:
    inv = inventory()
    server = inv.resolve("WSUS01")
    assert server.role == "server"
    assert server.winrm_url == "http://10.0.0.5:5985/wsman"
    assert server.selfupdate_url == "http://10.0.0.5"
    client = inv.resolve("xp01")
    assert client.role == "client"
    assert client.wsus_url == "http://wsus01:8530"
    assert client.server == "wsus01"


def test_pattern_host_gets_its_url_from_the_template() -> None:
    target = inventory().resolve("pc-7.corp.example")
    assert target.winrm_url == "http://pc-7.corp.example:5985/wsman"
    assert target.role == "client"
    assert target.wsus_url == "http://wsus01:8530"


def test_unknown_host_is_refused_with_suggestions() -> None:
    with pytest.raises(UnknownHostError, match="did you mean wsus01"):
        inventory().resolve("wsus99")


def test_groups() -> None:
    inv = inventory()
    assert [t.name for t in inv.group("xp")] == ["xp01"]
    with pytest.raises(UsageError, match="unknown group"):
        inv.group("nope")


def test_password_lookup_does_not_cache_absence(tmp_path: Path) -> None:
    from bot.services import Services
    from checks.errors import ConfigError

    settings = Settings.model_validate({"store": {"url": f"sqlite:///{tmp_path / 'db'}"}})
    services = Services.open(settings, migrate=False)
    try:
        kerberos = replace(inventory().resolve("xp01"), transport="kerberos", password_file=None)
        ntlm = replace(kerberos, transport="ntlm")
        assert services.password_for(kerberos) is None
        with pytest.raises(ConfigError, match="no WinRM password"):
            services.password_for(ntlm)
    finally:
        services.close()
