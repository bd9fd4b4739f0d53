"""A lab at fleet scale: addresses past 127.0.0.255, one accept loop for every listener
(an idle host has no thread of its own), and the bare ``exit N`` a baseline times."""

from __future__ import annotations

import ipaddress
import threading
from pathlib import Path

import pytest
import winrm

from lab.estate import Estate, _address
from lab.listeners import accept_loop
from lab.scenarios import with_clients

CLIENTS = 300


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # pywinrm warns (an error here) when it picks the CA bundle up from the environment
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def test_addresses_skip_network_and_broadcast_words_and_stay_in_loopback() -> None:
    assert _address("127.0.0.1", 20) == "127.0.0.21"
    assert _address("127.0.0.1", 253) == "127.0.0.254"
    assert _address("127.0.0.1", 254) == "127.0.1.1"  # not .255, not .0
    assert _address("127.0.1.0", 10) == "127.0.1.10"
    many = [_address("127.0.0.1", 20 + i) for i in range(70_000)]
    assert len(set(many)) == len(many)
    assert not [a for a in many if a.endswith((".0", ".255"))]
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("127.0.0.0/8") for a in many)
    with pytest.raises(ValueError, match=r"outside 127\.0\.0\.0/8"):
        _address("127.255.255.250", 10)


def test_hundreds_of_clients_with_no_thread_per_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = with_clients("healthy", CLIENTS)
    accept_loop()  # the process's one loop may already exist; it is not counted below
    threads_before = threading.active_count()
    listeners_before = accept_loop().listener_count()
    with Estate.start(scenario, workdir=tmp_path / "lab") as estate:
        # one WinRM listener per host and the server's sites, all on the one loop
        assert accept_loop().listener_count() - listeners_before > CLIENTS
        # no thread per listener (other tests' threads may still be ending meanwhile)
        assert threading.active_count() < threads_before + CLIENTS // 10
        assert not [t for t in threading.enumerate() if t.name.startswith(("wsman-", "iis-"))]
        hosts = {h.name: h for h in estate.hosts}
        last = hosts[f"c{CLIENTS - 1:04d}"]
        assert ipaddress.ip_address(last.address) > ipaddress.ip_address("127.0.0.255")
        assert len({h.address for h in estate.hosts}) == len(estate.hosts)
        session = winrm.Session(
            last.winrm_url,
            auth=(last.username, estate.password_file.read_text()),
            transport="ntlm",
            operation_timeout_sec=5,
            read_timeout_sec=10,
        )
        # the bare round trip a baseline measures: ``exit N`` alone answers N
        assert session.run_ps("exit 0").status_code == 0
        assert session.run_ps("exit 3").status_code == 3
        assert session.run_ps("exit 0; Get-Date").status_code == 1  # not a bare exit
    assert accept_loop().listener_count() == listeners_before
