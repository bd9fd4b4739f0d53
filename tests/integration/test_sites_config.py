"""Issue 15 without a broker: the sites configuration, the inventory's site of a host, the
worker's fix ledger and the JSON error envelope."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.inventory import Inventory
from bot.sites.app import node_name, queue_name, site_of_node
from bot.sites.ledger import FixLedger
from bot.sites.protocol import error_answer, raise_answer_error
from checks.errors import (
    CollectionTimeoutError,
    ConfigError,
    FixError,
    NoSiteWorkerError,
    UsageError,
    next_step_for,
)

BROKER = 'url = "amqp://bot:s3cret-pw@broker:5672/wsusbot"'
INVENTORY = """
[[servers]]
name = "wsus01"
address = "10.0.0.1"
site = "paris"

[[clients]]
name = "xp01"
address = "10.0.0.2"
server = "wsus01"
groups = ["dmz-hosts"]

[[clients]]
name = "xp02"
address = "10.0.0.3"

[[patterns]]
match = "*.lyon.example"
site = "lyon"
"""


def settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "wsusbot.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={})


def test_a_host_gets_its_own_its_patterns_or_its_groups_site(tmp_path: Path) -> None:
    loaded = settings(
        tmp_path, f'[broker]\n{BROKER}\ngroup_sites = {{ dmz-hosts = "dmz" }}\n{INVENTORY}'
    )
    inventory = Inventory(loaded)
    assert inventory.site_of(inventory.resolve("wsus01")) == "paris"
    assert inventory.site_of(inventory.resolve("xp01")) == "dmz"
    assert inventory.site_of(inventory.resolve("pc7.lyon.example")) == "lyon"
    assert inventory.site_of(inventory.resolve("xp02")) is None


def test_sites_without_a_broker_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[broker\] url is not set"):
        settings(tmp_path, INVENTORY)


@pytest.mark.parametrize("name", ["Paris", "-x", "a.b", "x" * 41, "café"])
def test_a_bad_site_name_is_refused(tmp_path: Path, name: str) -> None:
    text = INVENTORY.replace('site = "paris"', f'site = "{name}"')
    with pytest.raises(ConfigError, match="a site name is 1-40 lower-case"):
        settings(tmp_path, f"[broker]\n{BROKER}\n{text}")


def test_a_bad_broker_url_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, '[broker]\nurl = "redis://bot:s3cret-pw@broker"\n')
    assert "amqp://" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


def test_the_broker_url_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "broker_url"
    secret.write_text("amqp://bot:s3cret-pw@broker:5672/wsusbot\n", encoding="utf-8")
    path = tmp_path / "wsusbot.toml"
    path.write_text(INVENTORY, encoding="utf-8")
    loaded = load_settings(path, env={"WSUSBOT_BROKER_URL_FILE": str(secret)})
    assert loaded.broker.url == "amqp://bot:s3cret-pw@broker:5672/wsusbot"


def test_names_on_the_broker() -> None:
    assert queue_name("wsusbot", "paris") == "wsusbot.site.paris"
    node = node_name("wsusbot", "dmz")
    assert site_of_node("wsusbot", node) == "dmz"
    assert site_of_node("other", node) is None
    assert site_of_node("wsusbot", "celery@host") is None


def test_the_ledger_claims_a_key_once_and_keeps_its_answer(tmp_path: Path) -> None:
    ledger = FixLedger(tmp_path / "state" / "fix-ledger.sqlite")
    assert ledger.claim("apr_1", task_id="t1", host="xp01", fix="client.x") is None
    earlier = ledger.claim("apr_1", task_id="t2", host="xp01", fix="client.x")
    assert earlier is not None
    assert (earlier.task_id, earlier.finished_at, earlier.answer) == ("t1", None, None)
    ledger.finish("apr_1", {"ok": True, "result": {"fix": "client.x"}})
    # a second ledger on the same file (a restarted worker) sees the same row
    again = FixLedger(tmp_path / "state" / "fix-ledger.sqlite").claim(
        "apr_1", task_id="t3", host="xp01", fix="client.x"
    )
    assert again is not None
    assert again.answer == {"ok": True, "result": {"fix": "client.x"}}
    with pytest.raises(UsageError):
        ledger.claim("bad key; drop", task_id="t", host="h", fix="f")


def test_errors_cross_the_broker_as_their_own_class() -> None:
    sent = CollectionTimeoutError("xp01: no answer", host="xp01")
    sent.delivered = True
    with pytest.raises(CollectionTimeoutError) as caught:
        raise_answer_error("xp01", error_answer(sent))
    assert caught.value.delivered
    assert str(caught.value) == "xp01: no answer"
    with pytest.raises(FixError):
        raise_answer_error("xp01", error_answer(FixError("manual")))
    assert raise_answer_error("xp01", {"ok": True, "facts": {}}) == {"ok": True, "facts": {}}


def test_no_site_worker_has_a_next_step() -> None:
    assert NoSiteWorkerError.reason == "no_site_worker"
    assert "wsusbot worker --site" in next_step_for("no_site_worker")
