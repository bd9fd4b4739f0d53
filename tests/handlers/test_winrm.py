"""WinRM session building details that the lab-backed integration tests cannot see."""

from __future__ import annotations

import re
import time

import pytest

from checks.errors import HostUnreachableError
from checks.secret import Secret
from handlers.target import HostTarget
from handlers.winrm import WinrmClient, WinrmSettings, _translated

# the well-known LM and NT hashes of "password" (MS-NLMP 3.3.1 LMOWFv1 / NTOWFv1)
LM_PASSWORD = "e52cac67419a9a224a3b108f3fa6cb6d"
NT_PASSWORD = "8846f7eaee8fb117ad06bdd830b7586c"


def target(transport: str) -> HostTarget:
    return HostTarget(
        name="h",
        role="client",
        address="127.0.0.1",
        winrm_url="http://127.0.0.1:5985/wsman",
        transport=transport,
        username="LAB\\u",
        password_file=None,
        verify_tls=True,
        ca_bundle=None,
        wsus_url=None,
    )


def test_ntlm_sessions_get_the_hash_form_once_other_transports_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = WinrmClient(WinrmSettings(connect_retries=0))
    first = client._ntlm_password("password")
    assert first == f"{LM_PASSWORD}:{NT_PASSWORD}"
    assert client._ntlm_password("password") is first  # computed once
    assert "password" not in client._ntlm_hashes, "keyed by a digest, not the password"
    deadline = time.monotonic() + 30
    given: list[str] = []

    class Channel:
        def __init__(self, host: str, url: str, username: str, password: str, **_: object) -> None:
            given.append(password)
            raise HostUnreachableError("stop here")

    # NTLM hosts: the lean client's channel gets the hash form
    monkeypatch.setattr("handlers.winrm.NtlmChannel", Channel)
    with pytest.raises(HostUnreachableError):
        client.run(target("ntlm"), Secret("password"), "x", deadline=deadline)
    assert given == [first]
    # CredSSP (like Basic and Kerberos) goes through pywinrm, with the password itself
    credssp = client.build_session(target("credssp"), Secret("password"), deadline)
    assert credssp.transport.password == "password"


def test_the_hash_form_never_appears_in_a_message() -> None:
    hidden = _translated("h", Secret("password"), stage="run")._scrub(
        f"spnego said {LM_PASSWORD}:{NT_PASSWORD} and password"
    )
    assert LM_PASSWORD not in hidden
    assert NT_PASSWORD not in hidden
    assert "password" not in hidden.replace("********", "")
    assert re.search("[0-9a-f]{32}", hidden) is None
