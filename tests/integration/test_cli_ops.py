"""The CLI as an operator runs it against the lab: doctor (green, and naming each broken
item), credentials checked before any host, the audit identity, history of unknown hosts,
digest exit codes, and the metrics the checks leave, scraped over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cli.lab_cmd import slack_sections
from bot.config import load_settings
from bot.services import Services
from lab.estate import Estate, dumps_toml
from lab.slack import LocalSlack
from lab.wsman import AuthPolicy, CommandRequest, ExecResult, WsmanServer, generate_tls_files
from tests.cli_support import run


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    local = LocalSlack().start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "WSUSBOT_CONFIG",
        "WSUSBOT_WINRM_PASSWORD",
        "WSUSBOT_WINRM_PASSWORD_FILE",
        "WSUSBOT_WINRM_USERNAME",
        "SLACK_BOT_TOKEN",
        "SLACK_BOT_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)


def estate_config(estate: Estate, tmp_path: Path, slack: LocalSlack | None, **extra: Any) -> Path:
    sections: dict[str, Any] = slack_sections(slack, tmp_path) if slack is not None else {}
    sections.update(extra)
    return estate.write_config(tmp_path / "wsusbot.toml", sections)


def doctor(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, "--config", str(config), "doctor", "--json")
    assert "Traceback" not in out + err
    return code, json.loads(out)


def failing(report: dict[str, Any]) -> dict[str, str]:
    return {i["item"]: i["detail"] for i in report["items"] if not i["ok"]}


@pytest.mark.usefixtures("clean_env")
def test_doctor_is_green_on_the_healthy_lab(
    tmp_path: Path, slack: LocalSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    estate = Estate.start("healthy", workdir=tmp_path / "lab")
    try:
        config = estate_config(estate, tmp_path, slack)
        assert run(capsys, "--config", str(config), "db", "upgrade")[0] == 0
        code, report = doctor(capsys, config)
        assert code == 0, failing(report)
        assert report["ok"] is True
        items = {i["item"] for i in report["items"]}
        assert {"store", "migrations", "slack token", "winrm wsus01", "winrm xp01"} <= items
        assert any(i.startswith("winrm credentials") for i in items)
        assert any(i.startswith("channel C0DIGEST") for i in items)
        assert slack.bot_token not in json.dumps(report)
    finally:
        estate.stop()


@pytest.mark.usefixtures("clean_env")
def test_doctor_names_each_broken_item(
    tmp_path: Path, slack: LocalSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    estate = Estate.start("winrm_auth_fails", workdir=tmp_path / "lab")
    try:
        config = estate_config(estate, tmp_path, slack)
        (tmp_path / "slack_bot_token").write_text("xoxb-not-the-right-token\n")
        code, report = doctor(capsys, config)
        assert code == 1
        broken = failing(report)
        # the host that refuses the bot's account, and only that host
        assert "winrm xp01" in broken
        assert "rejected the credentials" in broken["winrm xp01"]
        assert "winrm wsus01" not in broken
        # the Slack token
        assert "invalid_auth" in broken["slack token"]
        # the store was never created by the doctor looking at it
        assert "db upgrade" in broken["store"]
        assert not (estate.workdir / "wsusbot.sqlite").exists()
        # the table form names them too, one FAIL line each
        code, out, _ = run(capsys, "--config", str(config), "doctor")
        assert code == 1
        assert "xp01" in out
        assert "xoxb-not-the-right-token" not in out
    finally:
        estate.stop()


@pytest.mark.usefixtures("clean_env")
def test_doctor_names_a_missing_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    estate = Estate.start("healthy", workdir=tmp_path / "lab")
    try:
        config = estate_config(
            estate, tmp_path, None, winrm={"password_file": str(tmp_path / "nope")}
        )
        code, report = doctor(capsys, config)
        assert code == 1
        broken = failing(report)
        assert any("cannot read the WinRM password file" in d for d in broken.values()), broken
    finally:
        estate.stop()


# ---------------------------------------------------------------- TLS


def test_doctor_tls_handshake_with_and_without_the_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSUSBOT_WINRM_PASSWORD", "s3cret-Password")
    tls = generate_tls_files(tmp_path / "tls", addresses=("127.0.0.1",))

    def echo(request: CommandRequest) -> ExecResult:
        return ExecResult(stdout=b"WSUS01")

    server = WsmanServer(
        echo,
        address="127.0.0.1",
        port=0,
        tls=tls,
        auth=AuthPolicy(ntlm=False, basic=True, basic_users={"bot": "s3cret-Password"}),
    )
    with server.start():
        base = {
            "store": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
            "winrm": {"transport": "basic", "username": "bot"},
            "servers": [{"name": "wsus01", "address": "127.0.0.1", "winrm_url": server.url}],
        }
        for ca, ok in ((str(tls.ca_cert), True), (None, False)):
            config = json.loads(json.dumps(base))
            if ca:
                config["servers"][0]["ca_bundle"] = ca
            path = tmp_path / "wsusbot.toml"
            path.write_text(dumps_toml(config), encoding="utf-8")
            assert run(capsys, "--config", str(path), "db", "upgrade")[0] == 0
            code, report = doctor(capsys, path)
            assert code == (0 if ok else 1)
            assert "s3cret-Password" not in json.dumps(report)
            lines = {i["item"]: i for i in report["items"]}
            assert lines["tls wsus01 (WinRM)"]["ok"] is ok, lines
            if ok:
                assert "certificate verified" in lines["tls wsus01 (WinRM)"]["detail"]
                assert lines["winrm wsus01"]["ok"] is True
                assert "WSUS01" in lines["winrm wsus01"]["detail"]
            else:
                assert "not trusted" in lines["tls wsus01 (WinRM)"]["detail"]
                assert "winrm wsus01" not in lines


# ---------------------------------------------------------------- credentials, identity


def test_a_missing_username_is_exit_2_before_any_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WSUSBOT_WINRM_USERNAME", raising=False)
    monkeypatch.setenv("WSUSBOT_WINRM_PASSWORD", "pw-pw-pw")
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): contacting it would hang until the deadline
    config = {
        "store": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
        "servers": [{"name": "wsus01", "address": "192.0.2.10"}],
        "clients": [{"name": "pc1", "address": "192.0.2.11", "server": "wsus01"}],
    }
    path = tmp_path / "wsusbot.toml"
    path.write_text(dumps_toml(config), encoding="utf-8")
    for args in (["check", "wsus01"], ["check", "--all"]):
        code, out, err = run(capsys, "--config", str(path), *args)
        assert code == 2, err
        assert err.count("\n") == 1
        assert "no WinRM username" in err
        assert "Traceback" not in out + err
    monkeypatch.setenv("WSUSBOT_WINRM_USERNAME", "bot")
    monkeypatch.delenv("WSUSBOT_WINRM_PASSWORD")
    code, _, err = run(capsys, "--config", str(path), "check", "pc1")
    assert code == 2
    assert "no WinRM password" in err
    assert err.count("\n") == 1


@pytest.mark.usefixtures("clean_env")
def test_cli_checks_are_audited_with_the_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    estate = Estate.start("healthy", workdir=tmp_path / "lab")
    try:
        config = estate_config(estate, tmp_path, None)
        code, out, err = run(capsys, "--config", str(config), "--as", "alice", "check", "xp01")
        assert code == 0, out + err
        code, out, _ = run(capsys, "--config", str(config), "check", "--group", "lab", "--json")
        assert code == 0
        assert len(json.loads(out)) == 4
        # progress goes to stderr: stdout is the result alone
        code, out, err = run(capsys, "--config", str(config), "check", "--group", "lab")
        assert code == 0
        assert "fleet summary" in out
        assert "checking hosts" not in out
        assert "xp01:  PASS" in err
        assert "checking hosts" in err
        code, out, _ = run(capsys, "--config", str(config), "audit", "--host", "xp01")
        rows = json.loads(out)
        users = [r["user"] for r in rows if r["action"] == "check"]
        assert "cli:alice" in users
        assert any(u.startswith("cli:") and u != "cli:alice" for u in users)
        # history of a host outside the inventory says so
        code, _, err = run(capsys, "--config", str(config), "history", "nosuchhost")
        assert code == 2
        assert "not in the inventory" in err
        code, out, _ = run(capsys, "--config", str(config), "history", "xp01", "--json")
        assert code == 0
        assert {r["requested_by"] for r in json.loads(out)} >= {"cli:alice"}
    finally:
        estate.stop()


@pytest.mark.usefixtures("clean_env")
def test_digest_json_and_exit_3_when_a_server_is_not_read(
    tmp_path: Path, slack: LocalSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    estate = Estate.start("healthy", workdir=tmp_path / "lab")
    try:
        config = estate_config(estate, tmp_path, slack)
        code, out, err = run(
            capsys, "--config", str(config), "--as", "bob", "digest", "--now", "--dry-run", "--json"
        )
        assert code == 0, err
        data = json.loads(out)
        assert data["digest"] == "morning"
        assert data["servers_read"] == ["wsus01"]
        assert data["not_read"] == []
        estate.stop()  # every host gone: the server cannot be read
        code, out, _ = run(
            capsys, "--config", str(config), "digest", "--now", "--dry-run", "--json"
        )
        assert code == 3
        assert [n["server"] for n in json.loads(out)["not_read"]] == ["wsus01"]
        code, out, _ = run(capsys, "--config", str(config), "audit")
        previews = [r for r in json.loads(out) if r["action"] == "digest_previewed"]
        assert [r["user"] for r in previews][:1] == ["cli:bob"]
    finally:
        estate.stop()


# ---------------------------------------------------------------- metrics


@pytest.mark.usefixtures("clean_env")
def test_metrics_after_checks_scraped_over_http(tmp_path: Path) -> None:
    import httpx

    from bot.slack.serve import HttpServer, metrics_only
    from tests.integration.lab_support import check_hosts

    estate = Estate.start("winrm_auth_fails", workdir=tmp_path / "lab")
    try:
        config = estate.write_config(tmp_path / "wsusbot.toml", {})
        services = Services.open(load_settings(config, env={}))
        try:
            check_hosts(services)
            server = HttpServer(metrics_only(services.metrics), "127.0.0.1", 0).start()
            try:
                response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
                other = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
            finally:
                server.stop()
        finally:
            services.close()
    finally:
        estate.stop()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert other.status_code == 404
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    checks = {
        (s.labels["check"], s.labels["status"]): s.value
        for s in families["wsusbot_checks"].samples
        if s.name == "wsusbot_checks_total"
    }
    assert checks[("server.anonymous_auth", "pass")] == 1
    assert any(status == "unknown" for (_, status) in checks)  # xp01 refused the log-on
    verdicts = {
        s.labels["verdict"]: s.value
        for s in families["wsusbot_host_checks"].samples
        if s.name == "wsusbot_host_checks_total"
    }
    assert verdicts["unknown"] == 1
    trips = {
        s.labels["outcome"]: s.value
        for s in families["wsusbot_winrm_round_trip_seconds"].samples
        if s.name == "wsusbot_winrm_round_trip_seconds_count"
    }
    assert trips["ok"] >= 1
    assert trips["error"] >= 1


def test_metrics_config_is_validated(tmp_path: Path) -> None:
    from checks.errors import ConfigError

    path = tmp_path / "c.toml"
    path.write_text('[metrics]\nenabled = true\nbind = "everywhere"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"metrics\.bind"):
        load_settings(path, env={})
    path.write_text("[metrics]\nenabled = true\nport = 9465\n", encoding="utf-8")
    settings = load_settings(path, env={})
    assert (settings.metrics.bind, settings.metrics.port) == ("127.0.0.1", 9465)
    assert load_settings(None, env={}).metrics.enabled is False
