from __future__ import annotations

import pytest

from checks.errors import BadOutputError, FixError
from checks.fixes import FIXES, get_fix
from handlers.fixes import fix_params, parse_fix_result
from handlers.target import HostTarget


def client(wsus_url: str | None) -> HostTarget:
    return HostTarget(
        name="xp01",
        role="client",
        address="10.0.0.9",
        winrm_url="http://10.0.0.9:5985/wsman",
        transport="ntlm",
        username="u",
        password_file=None,
        verify_tls=True,
        ca_bundle=None,
        wsus_url=wsus_url,
    )


def test_parameters_come_from_the_inventory_as_declared() -> None:
    policy = get_fix("client.set_wsus_policy")
    assert fix_params(policy, client("http://wsus01:8530")) == {
        "wsus_url": "http://wsus01:8530",
        "status_url": "http://wsus01:8530",
    }
    with pytest.raises(FixError, match="needs the inventory's wsus_url"):
        fix_params(policy, client(None))
    others = [f for f in FIXES if not f.params_from_inventory]
    assert all(fix_params(f, client(None)) == {} for f in others)


def test_fix_results_are_checked() -> None:
    fix = get_fix("client.restart_wuauserv")
    result = parse_fix_result(
        "xp01",
        fix,
        {
            "fix": fix.id,
            "changed": True,
            "before": {"state": "Stopped"},
            "after": {"state": "Running"},
            "log": ["ok"],
        },
    )
    assert result.changed
    assert result.after == {"state": "Running"}
    with pytest.raises(BadOutputError, match=r"not 'client\.restart_wuauserv'"):
        parse_fix_result("xp01", fix, {"fix": "server.start_services"})
    with pytest.raises(BadOutputError):
        parse_fix_result("xp01", fix, ["not", "an", "object"])
