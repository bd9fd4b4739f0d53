"""Issue 7 end to end: digests of the lab's ``stalled_fleet`` estate posted by the real bot
(runner, WinRM and HTTP collectors, store, Bolt app) to the lab's local Slack."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.config import load_settings
from bot.digest import chart as chart_module
from bot.runtime import BotRuntime
from bot.store.audit import AuditAction, AuditLog
from bot.store.db import normalise_url
from bot.store.digests import DigestStore
from bot.usecases.context import BotContext
from bot.usecases.digest import DigestOutcome, run_scheduled, scheduled_digest
from checks.followup import FollowupOutcome
from checks.logscan import FAILING_STATUSES
from lab.estate import Estate
from lab.hosts.fleet import generate
from lab.scenarios import load_scenario
from lab.slack import LocalSlack
from tests.integration.lab_support import check_hosts
from tests.integration.slack_support import TestClock, lab_sections

DIGEST_CHANNEL = "C0DIGEST"
VIEWER = "U0VIEWER"
#: 29 February: the scheduler never fires during a test; the tests drive the slots
NEVER_DURING_TESTS = "0 8 29 2 *"
#: a second WSUS server nobody answers for (nothing listens on this loopback address)
UNREACHABLE = {
    "name": "wsus02",
    "address": "127.0.0.250",
    "winrm_url": "http://127.0.0.250:5985/wsman",
    "wsus_url": "http://127.0.0.250:8530",
    "selfupdate_url": "http://127.0.0.250",
}


def expected_by_cause() -> dict[str, set[str]]:
    """What the scenario file declares and its fleet generator produces."""
    scenario = load_scenario("stalled_fleet")
    server = scenario.servers[0]
    assert server.fleet is not None
    fleet = generate(server.fleet)
    by_ip = {c.ip: c.name for c in fleet}
    stale = {c.name for c in fleet if c.category.split("+")[0] != "fresh"}
    # fleet01's last successful search is 10 days old, so the server's inventory shows it
    # stale too; fleet02's (2 days) is recent
    stale.add("fleet01")
    failing_ips = {
        ip
        for entry in server.log_history
        if int(entry["status"]) in FAILING_STATUSES
        for ip in entry["clients"]
    }
    return {
        "stale_sync": stale,
        "old_agent": {c.name for c in fleet if c.category.endswith("old_agent")},
        "iis_failures": {by_ip[ip] for ip in failing_ips},
        # the scenario's FAIL (fleet02's detection only warns)
        "detection_stalled": {"fleet01"},
    }


@dataclass
class DigestLab:
    estate: Estate
    slack: LocalSlack
    runtime: BotRuntime
    config: Path

    @property
    def ctx(self) -> BotContext:
        assert self.runtime.ctx is not None
        return self.runtime.ctx

    def run_slot(self, now: datetime, runtime: BotRuntime | None = None) -> DigestOutcome | None:
        ctx = (runtime or self.runtime).ctx
        assert ctx is not None
        return ctx.worker.call(lambda: run_scheduled(ctx, "morning", now), timeout=120)

    def digests(self) -> list[Any]:
        return [m for m in self.slack.messages(DIGEST_CHANNEL) if m.text.startswith("WSUS digest")]


def start_runtime(config: Path, clock: TestClock) -> BotRuntime:
    settings = load_settings(config, env={})
    return BotRuntime(
        settings, mode="socket", clock=clock, env={}, port=0, health_port=None
    ).start()


@contextmanager
def digest_lab(
    tmp_path: Path, *, database_url: str | None = None, viewers: list[str] | None = None
) -> Iterator[DigestLab]:
    estate = Estate.start("stalled_fleet", workdir=tmp_path / "lab")
    slack = LocalSlack().start()
    lab: DigestLab | None = None
    try:
        extra = lab_sections(slack, estate.workdir, roles__viewers=viewers or [])
        extra["digests"] = [
            {"id": "morning", "channel": DIGEST_CHANNEL, "cron": NEVER_DURING_TESTS, "top_hosts": 5}
        ]
        extra["servers"] = [*estate.config_dict()["servers"], UNREACHABLE]
        if database_url:
            extra["store"] = {"url": database_url}
        config = estate.write_config(tmp_path / "wsusbot.toml", extra)
        lab = DigestLab(estate, slack, start_runtime(config, TestClock()), config)
        slack.wait_for_socket()
        yield lab
    finally:
        if lab is not None:
            lab.runtime.stop()
        slack.stop()
        estate.stop()


def csv_by_cause(content: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in csv.DictReader(io.StringIO(content)):
        for cause in row["causes"].split(";"):
            found.setdefault(cause, set()).add(row["host"])
    return found


def test_digest_names_the_stalled_clients_by_cause_then_shows_the_trend(tmp_path: Path) -> None:
    with digest_lab(tmp_path) as lab:
        check_hosts(lab.ctx.services, ["fleet01", "fleet02"])
        now = lab.ctx.now()
        outcome = lab.run_slot(now)
        assert outcome is not None
        assert outcome.ts is not None
        expected = expected_by_cause()
        [message] = lab.digests()
        assert message.ts == outcome.ts
        files = lab.slack.files()
        assert sorted(f.filename.rsplit(".", 1)[-1] for f in files) == ["csv", "png"]
        (upload,) = [f for f in files if f.filename.endswith(".csv")]
        assert upload.content is not None
        assert csv_by_cause(upload.content.decode("utf-8")) == expected
        # the chart went through files.getUploadURLExternal + upload + completeUploadExternal
        # into the digest's thread, a real PNG of the chart's size
        (chart,) = [f for f in files if f.filename.endswith(".png")]
        assert chart.thread_ts == message.ts
        assert chart.channel == DIGEST_CHANNEL
        assert chart.content is not None
        assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")
        image = Image.open(io.BytesIO(chart.content))
        assert (image.format, image.size) == ("PNG", (chart_module.WIDTH, chart_module.HEIGHT))
        methods = [c.method for c in lab.slack.calls() if c.method.startswith("files.")]
        assert methods.count("files.getUploadURLExternal") == 2
        assert methods.count("files.completeUploadExternal") == 2
        text = str(message.blocks)
        for cause in expected:
            assert f"'cause:{cause}'" in text
        assert f"— {len(expected['stale_sync'])} hosts" in text
        assert "not read: wsus02 (unreachable)" in message.text
        assert "first digest" in message.text
        posted = AuditLog(lab.ctx.services.db).query(action=AuditAction.DIGEST_POSTED)
        assert [r.outcome for r in posted] == ["posted"]

        # what the fix flow stores when a reset did not bring fleet02 back
        approvals = lab.ctx.services.approvals
        approval = approvals.create(
            host="fleet02",
            fix_id="client.reset_au_state",
            requested_by="U0OPER",
            now=now,
            expires_at=now + timedelta(hours=1),
            channel=None,
            thread_ts=None,
            run_id=None,
            context={},
        )
        followup = approvals.add_followup(
            approval_id=approval.id,
            host="fleet02",
            due_at=now,
            channel=None,
            thread_ts=None,
            requested_by="U0APPR",
            before=None,
        )
        approvals.finish_followup(
            followup, FollowupOutcome.NOT_RECOVERED, now=now, detail="LastWaitTimeout moved"
        )
        second = lab.run_slot(now + timedelta(days=1))
        assert second is not None
        assert second.trend.new == ("fleet02",)
        assert second.trend.resolved == ()
        assert len(second.trend.still) == len(outcome.digest.stalled)
        latest = lab.digests()[-1]
        assert f"1 new · {len(second.trend.still)} still · 0 resolved" in latest.text
        assert "`fleet02`" in str(latest.blocks)
        # the second run read the log from the stored cursor: no request counted twice
        failing_requests = sum(
            int(entry["count"])
            for entry in load_scenario("stalled_fleet").servers[0].log_history
            if int(entry["status"]) in FAILING_STATUSES
        )
        rows = DigestStore(lab.ctx.services.db).log_failures("wsus01", now - timedelta(days=3))
        assert sum(r.count for r in rows) == failing_requests
        assert DigestStore(lab.ctx.services.db).cursor("wsus01") is not None


def test_check_button_runs_a_check_in_the_digest_thread(tmp_path: Path) -> None:
    with digest_lab(tmp_path) as lab:
        check_hosts(lab.ctx.services, ["fleet01"])
        outcome = lab.run_slot(lab.ctx.now())
        assert outcome is not None
        assert outcome.ts is not None
        message = lab.slack.message(DIGEST_CHANNEL, outcome.ts)
        buttons = [
            b["accessory"]
            for b in message.blocks
            if (b.get("accessory") or {}).get("action_id") == "digest_check"
        ]
        assert buttons, "fleet01 (in the inventory) is a top host with a Check button"
        lab.slack.click_button(
            VIEWER, DIGEST_CHANNEL, outcome.ts, "digest_check", buttons[0]["value"]
        ).wait_ack(5)

        def verdict() -> Any:
            for reply in lab.slack.messages(DIGEST_CHANNEL, thread_ts=outcome.ts):
                if reply.text.startswith("fleet01: ") and "checking" not in reply.text:
                    return reply
            return None

        reply = lab.slack.wait_for(
            verdict, timeout=60, description="fleet01's verdict in the thread"
        )
        assert reply.thread_ts == outcome.ts
        assert "FAIL" in reply.text


def test_a_restart_inside_the_slot_posts_once(tmp_path: Path) -> None:
    with digest_lab(tmp_path) as lab:
        # the cron never fires in a test, so the slot is the minute the run happens in
        now = lab.ctx.now().replace(second=0, microsecond=0)
        assert lab.run_slot(now) is not None
        assert lab.run_slot(now + timedelta(seconds=20)) is None
        # a new process on the same database, as after a crash and restart
        lab.runtime.stop()
        lab.runtime = start_runtime(lab.config, TestClock())
        assert lab.run_slot(now) is None
        assert len(lab.digests()) == 1


def test_the_scheduler_target_finds_the_running_bot(tmp_path: Path) -> None:
    with digest_lab(tmp_path) as lab:
        from apscheduler.util import ref_to_obj

        assert ref_to_obj("bot.usecases.digest:scheduled_digest") is scheduled_digest
        lab.ctx.worker.call(lambda: scheduled_digest("morning"), timeout=120)
        lab.ctx.worker.call(lambda: scheduled_digest("morning"), timeout=120)
        slots = [s for s in _slots(lab) if not s.startswith("manual:")]
        # both runs fell in the same minute (one post) or in two (two posts), never more
        assert len(lab.digests()) == len(slots) in (1, 2)


def _slots(lab: DigestLab) -> list[str]:
    return DigestStore(lab.ctx.services.db).slots("morning")


POSTGRES_URL = os.environ.get("WSUSBOT_TEST_POSTGRES_URL")


def empty_postgres(url: str) -> None:
    """Start from migration zero (no pool: nothing stays open after the reset)."""
    engine = create_engine(normalise_url(url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="set WSUSBOT_TEST_POSTGRES_URL for replicas")
def test_two_replicas_on_postgresql_post_once(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    empty_postgres(POSTGRES_URL)
    with digest_lab(tmp_path, database_url=POSTGRES_URL) as lab:
        other = start_runtime(lab.config, TestClock())
        try:
            assert other.ctx is not None
            now = lab.ctx.now()
            first = lab.ctx.worker.submit(run_scheduled(lab.ctx, "morning", now))
            second = other.ctx.worker.submit(run_scheduled(other.ctx, "morning", now))
            results = [first.result(120), second.result(120)]
        finally:
            other.stop()
        assert sum(r is not None for r in results) == 1
        assert len(lab.digests()) == 1


def test_slash_digest_posts_to_the_channel_it_was_typed_in(tmp_path: Path) -> None:
    with digest_lab(tmp_path) as lab:
        lab.slack.type_command(VIEWER, "C0WSUS", "/wsus", "digest").wait_ack(5)
        posted = lab.slack.wait_for(
            lambda: [m for m in lab.slack.messages("C0WSUS") if m.text.startswith("WSUS digest")],
            timeout=60,
            description="the digest in C0WSUS",
        )
        assert len(posted) == 1
        assert "not read: wsus02 (unreachable)" in posted[0].text
        assert lab.digests() == []
        # the audit row follows the post
        [audit] = lab.slack.wait_for(
            lambda: AuditLog(lab.ctx.services.db).query(action=AuditAction.DIGEST_POSTED),
            timeout=30,
            description="the digest_posted audit row",
        )
        assert audit.user == VIEWER
        assert "slot manual:" in (audit.detail or "")


@pytest.mark.parametrize("post_when_healthy", [True, False])
def test_a_healthy_estate_gets_one_line_or_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], post_when_healthy: bool
) -> None:
    from bot.cli import main

    with Estate.start("healthy", workdir=tmp_path / "lab") as estate, LocalSlack() as slack:
        extra = lab_sections(slack, estate.workdir)
        extra["digests"] = [
            {
                "id": "morning",
                "channel": DIGEST_CHANNEL,
                "cron": NEVER_DURING_TESTS,
                "post_when_healthy": post_when_healthy,
            }
        ]
        config = estate.write_config(tmp_path / "wsusbot.toml", extra)
        assert main(["--config", str(config), "digest", "--now"]) == 0
        out = capsys.readouterr().out
        posted = slack.messages(DIGEST_CHANNEL)
        if post_when_healthy:
            assert [m.text for m in posted] == ["all clients self-updating"]
            assert "posted to C0DIGEST" in out
        else:
            assert posted == []
            assert "healthy: not posted" in out
        assert "digest morning: 0 stalled" in out


def test_check_button_needs_the_viewer_role(tmp_path: Path) -> None:
    with digest_lab(tmp_path, viewers=[VIEWER]) as lab:
        outcome = lab.run_slot(lab.ctx.now())
        assert outcome is not None
        assert outcome.ts is not None
        message = lab.slack.message(DIGEST_CHANNEL, outcome.ts)
        [token] = [
            b["accessory"]["value"]
            for b in message.blocks
            if (b.get("accessory") or {}).get("type") == "button"
        ]
        delivery = lab.slack.click_button(
            "U0NOBODY", DIGEST_CHANNEL, outcome.ts, "digest_check", token
        )
        delivery.wait_ack(5)
        [refusal] = lab.slack.wait_for(
            lambda: lab.slack.responses(delivery.id), timeout=10, description="the refusal"
        )
        assert refusal.response_type == "ephemeral"
        assert "viewer role" in str(refusal.body.get("text"))
        thread = lab.slack.messages(DIGEST_CHANNEL, thread_ts=outcome.ts)
        assert not [m for m in thread if m.text.startswith(("fleet01", "checking"))]
        refused = AuditLog(lab.ctx.services.db).query(action=AuditAction.CHECK_REFUSED)
        assert [r.user for r in refused] == ["U0NOBODY"]
