"""Issue 15: checks, digests and approved fixes through site workers (real RabbitMQ, real
``wsusbot worker`` processes, the lab's hosts split into two sites)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.config import load_settings
from bot.services import Services
from checks.model import Status
from checks.report import Report
from lab.estate import Estate, dumps_toml
from lab.slack import LocalSlack
from tests.integration.lab_support import check_hosts
from tests.integration.sites_support import (
    broker_section,
    new_prefix,
    rabbitmq_vhost,
    site_workers,
    split_sites,
)
from tests.integration.slack_support import lab_sections

#: the mixed scenario's estate, split in two: the server and two clients, two clients
#: real worker processes start in 5-20 s each (their imports) and a fix proof waits out a
#: deadline: far past the suite's 120 s default on a loaded 2-core machine
pytestmark = pytest.mark.timeout(900)

SITES = {"wsus01": "north", "xp01": "north", "srv03": "north", "xp02": "south", "win10": "south"}
DIGEST_CHANNEL = "C0DIGEST"
NEVER_DURING_TESTS = "0 8 29 2 *"


@pytest.fixture(scope="module", autouse=True)
def vhost() -> None:
    rabbitmq_vhost()


def write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(dumps_toml(config), encoding="utf-8")
    return path


def statuses(reports: dict[str, Report]) -> dict[str, dict[str, str]]:
    return {
        host: {f.check: f.status.value for f in report.findings} for host, report in reports.items()
    }


def checked(config: Path) -> dict[str, Report]:
    services = Services.open(load_settings(config, env={}))
    try:
        return check_hosts(services)
    finally:
        services.close()


def sited_configs(
    estate: Estate, tmp_path: Path, prefix: str, extra: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """(the workers' config, the bot's config): the same inventory and sites; only the
    workers hold the WinRM password file."""
    config = split_sites(estate.config_dict(), SITES)
    config.update(copy.deepcopy(extra or {}))
    config["broker"] = broker_section(prefix)
    config["store"] = {"url": f"sqlite:///{tmp_path / 'sites.sqlite'}"}
    worker = write(tmp_path / "worker.toml", config)
    bot = copy.deepcopy(config)
    del bot["winrm"]["password_file"]
    return worker, write(tmp_path / "bot.toml", bot)


def test_a_fleet_check_through_two_site_workers_matches_the_embedded_one(tmp_path: Path) -> None:
    with Estate.start("mixed", workdir=tmp_path / "lab") as estate:
        embedded = statuses(checked(write(tmp_path / "embedded.toml", estate.config_dict())))
        worker_config, bot_config = sited_configs(estate, tmp_path, prefix := new_prefix())
        with site_workers(broker_section(prefix), tmp_path / "workers") as workers:
            workers.start(worker_config, "north")
            workers.start(worker_config, "south")
            before = {h: estate.host(h).probe_counts().get("client_facts", 0) for h in SITES}
            got = checked(bot_config)
        # every host was read (by its site's worker: the bot has no WinRM password)
        assert all(r.unreachable_reason is None for r in got.values()), {
            h: r.unreachable_reason for h, r in got.items()
        }
        assert statuses(got) == embedded
        assert embedded["wsus01"]["server.selfupdate_vdir"] == Status.FAIL.value
        assert embedded["xp02"]["client.agent_version"] == Status.FAIL.value
        for host in ("xp01", "srv03", "xp02", "win10"):
            assert estate.host(host).probe_counts().get("client_facts", 0) == before[host] + 1


def test_without_a_broker_url_the_bot_works_alone(tmp_path: Path) -> None:
    with Estate.start("healthy", workdir=tmp_path / "lab") as estate:
        settings = load_settings(write(tmp_path / "plain.toml", estate.config_dict()), env={})
        services = Services(settings=settings, db=Services.open(settings).db)
        try:
            assert services.sites() is None
        finally:
            services.close()


def test_a_site_with_no_worker_is_unknown_within_the_deadline(tmp_path: Path) -> None:
    with Estate.start("mixed", workdir=tmp_path / "lab") as estate:
        prefix = new_prefix()
        config = split_sites(estate.config_dict(), dict.fromkeys(SITES, "east"))
        config["broker"] = broker_section(prefix)
        config["runner"]["host_deadline_s"] = 4
        with site_workers(broker_section(prefix), tmp_path / "workers") as workers:
            # a worker of another site is up: the broker answers, site east has nobody
            workers.start(write(tmp_path / "worker.toml", config), "west")
            reports = checked(write(tmp_path / "bot.toml", config))
        for host, report in reports.items():
            # answered inside the host's deadline (at once: no worker answered the ping)
            assert report.started_at is not None
            assert report.finished_at is not None
            assert (report.finished_at - report.started_at).total_seconds() < 4, host
            assert report.unreachable_reason == "no_site_worker", host
            finding = report.findings[0]
            assert finding.status is Status.UNKNOWN
            assert f"{host}: no worker for site east" in finding.evidence
            assert "wsusbot worker --site" in finding.next_step


def test_a_digest_through_site_workers_posts_what_the_embedded_one_posts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    posts: dict[str, list[str]] = {}
    with Estate.start("mixed", workdir=tmp_path / "lab") as estate, LocalSlack() as slack:
        sections = lab_sections(slack, estate.workdir)
        sections["digests"] = [
            {"id": "morning", "channel": DIGEST_CHANNEL, "cron": NEVER_DURING_TESTS}
        ]
        embedded = write(tmp_path / "embedded.toml", {**estate.config_dict(), **sections})
        assert main(["--config", str(embedded), "digest", "--now"]) == 0
        posts["embedded"] = [m.text for m in slack.messages(DIGEST_CHANNEL)]
        worker_config, bot_config = sited_configs(
            estate, tmp_path, prefix := new_prefix(), sections
        )
        with site_workers(broker_section(prefix), tmp_path / "workers") as workers:
            workers.start(worker_config, "north")
            workers.start(worker_config, "south")
            assert main(["--config", str(bot_config), "digest", "--now"]) == 0
        posts["sites"] = [m.text for m in slack.messages(DIGEST_CHANNEL)][len(posts["embedded"]) :]
    out = capsys.readouterr().out
    assert "digest morning" in out
    assert posts["sites"] == posts["embedded"]
    assert posts["embedded"]
    assert "not read" not in posts["sites"][0]
