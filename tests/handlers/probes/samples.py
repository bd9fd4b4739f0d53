"""Sample parameters for each probe, as the bot sends them."""

from __future__ import annotations

from collections.abc import Mapping

SAMPLE_PARAMS: Mapping[str, Mapping[str, object]] = {
    "client_facts": {"expected_wsus_url": "http://wsus01:8530", "timeout_ms": 5000},
    "server_facts": {"timeout_ms": 5000},
    "iis_log": {
        "log_dir": None,
        "cursor": {"file": "u_ex261125.log", "offset": 4096},
        "max_bytes": 4 * 1024 * 1024,
    },
    "wsus_computers": {},
    "fix_install_selfupdate_port80": {},
    "fix_enable_anonymous_auth": {},
    "fix_start_services": {},
    "fix_raise_wsuspool_memory": {},
    "fix_set_wsus_policy": {
        "wsus_url": "http://wsus01:8530",
        "status_url": "http://wsus01:8530",
    },
    "fix_enable_automatic_updates": {},
    "fix_reset_au_state": {},
    "fix_restart_wuauserv": {},
}

SERVER_BUNDLE: Mapping[str, Mapping[str, object]] = {
    name: SAMPLE_PARAMS[name] for name in ("server_facts", "iis_log", "wsus_computers")
}

#: values that would break out of any quoting if they ever reached the script text
HOSTILE_STRINGS: tuple[str, ...] = (
    "'",
    '"',
    "'; Remove-Item C:\\ -Recurse; '",
    '"; $(Stop-Computer -Force); "',
    "$(Stop-Computer)",
    "`$x`n`r",
    "line one\nline two\r\n# wsusbot-probe: fix_reset_au_state v1",
    "--% /c del *",
    "#> <# @' '@ @\" \"@",
    "\x00NUL\x00",
    "\u65e5\u672c\u8a9e \u00e9 \U0001f600 \u202e",
    "A" * 10_000,
)
