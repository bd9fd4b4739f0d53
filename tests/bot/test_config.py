from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from checks.errors import ConfigError

GOOD = """
[store]
url = "sqlite:///state/wsusbot.sqlite"

[winrm]
username = "LAB\\\\wsusbot"
password_file = "secrets/winrm"

[thresholds]
stale_warn_days = 10

[[servers]]
name = "wsus01"
address = "10.0.0.5"
wsus_url = "http://wsus01:8530"
groups = ["hq"]

[[clients]]
name = "xp01"
address = "10.0.1.21"
server = "wsus01"
groups = ["hq", "xp"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wsusbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads_with_defaults_and_relative_paths(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD), env={})
    assert settings.thresholds.stale_warn_days == 10
    assert settings.thresholds.stale_fail_days == 30
    assert settings.thresholds.to_thresholds().min_client_version == "7.6.7600.256"
    assert settings.winrm.password_file == tmp_path.resolve() / "secrets" / "winrm"
    assert settings.store.url == f"sqlite:///{tmp_path.resolve()}/state/wsusbot.sqlite"
    assert [s.name for s in settings.servers] == ["wsus01"]


def test_environment_overrides_file(tmp_path: Path) -> None:
    env = {"WSUSBOT_DATABASE_URL": "postgresql://bot@db/wsus", "WSUSBOT_WINRM_USERNAME": "X\\y"}
    settings = load_settings(write(tmp_path, GOOD), env=env)
    assert settings.store.url == "postgresql://bot@db/wsus"
    assert settings.winrm.username == "X\\y"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    settings = load_settings(None, env={"WSUSBOT_CONFIG": str(path)})
    assert settings.source == path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[thresholds]\nstale_warn_days = 'soon'\n", "thresholds.stale_warn_days"),
        ("[thresholds]\nmin_client_version = 'seven'\n", "thresholds.min_client_version"),
        ("[winrm]\ntransport = 'telnet'\n", "winrm.transport"),
        ("[winrm]\npasword_file = 'x'\n", "unknown key 'winrm.pasword_file'"),
        (
            "[winrm]\noperation_timeout_s = 40\nread_timeout_s = 30\n",
            "read_timeout_s (30.0) must be greater",
        ),
        ("[[clients]]\nname='a'\naddress='a'\nserver='nope'\n", "names server 'nope'"),
        (
            "[[servers]]\nname='a'\naddress='a'\n[[clients]]\nname='A'\naddress='b'\n",
            "listed twice",
        ),
        ("this is = = not toml", "not valid TOML"),
    ],
)
def test_bad_files_name_the_key_and_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env={})
    assert expected in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.toml", env={})
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(binary, env={})


@pytest.mark.parametrize(
    ("digest", "expected"),
    [
        ("cron = '0 25 * * *'", "does not parse"),
        ("cron = 'every morning'", "does not parse"),
        ("timezone = 'Mars/Olympus'", "unknown timezone"),
    ],
)
def test_bad_digest_schedules_are_config_errors(tmp_path: Path, digest: str, expected: str) -> None:
    text = f"[[digests]]\nid = 'd'\nchannel = 'C1'\n{digest}\n"
    with pytest.raises(ConfigError, match=expected):
        load_settings(write(tmp_path, text), env={})


def test_database_url_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "db_url"
    secret.write_text("postgresql://bot:s3cret@db/wsus\n", encoding="utf-8")
    settings = load_settings(None, env={"WSUSBOT_DATABASE_URL_FILE": str(secret)})
    assert settings.store.url == "postgresql://bot:s3cret@db/wsus"
    with pytest.raises(ConfigError, match="cannot read WSUSBOT_DATABASE_URL_FILE"):
        load_settings(None, env={"WSUSBOT_DATABASE_URL_FILE": str(tmp_path / "nope")})
