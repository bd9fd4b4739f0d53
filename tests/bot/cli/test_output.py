"""What the CLI prints: readable when piped, progress on stderr, documents judged as of
their collection time, Slack mrkdwn as terminal styling; ``db upgrade|status``; and the
scheduler-lag, fix and digest metrics."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import threading
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from bot.auth import Authorizer
from bot.cli.digest_cmd import scan_logs
from bot.config import load_settings
from bot.observability.metrics import Metrics
from bot.render.mrkdwn import to_text
from bot.render.terminal import blocks_to_text
from bot.scheduling import Schedules
from bot.services import Services
from bot.store.audit import AuditAction, AuditRecord
from bot.usecases.context import BotContext
from bot.worker import Worker
from checks.logscan import ScanResult
from tests.bot.fakes import FakeChat
from tests.cli_support import run

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


# ---------------------------------------------------------------- check --facts


def test_a_facts_document_is_judged_as_of_its_collected_at(
    capsys: pytest.CaptureFixture[str],
) -> None:
    healthy = str(EXAMPLES / "client-healthy.json")
    args = ("check", "pc-win10-01", "--facts", healthy, "--expected-wsus-url")
    code, out, _ = run(capsys, *args, "http://wsus01:8530", "--json")
    assert code == 0
    assert {f["status"] for f in json.loads(out)["findings"]} == {"pass"}
    # a week later, the same document is stale: --now says when to judge it
    code, out, _ = run(capsys, *args, "http://wsus01:8530", "--json", "--now", "2026-12-02")
    assert code == 0  # a warning is not a failure
    assert "warn" in {f["status"] for f in json.loads(out)["findings"]}


def test_live_check_refuses_now(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "h1", "--now", "2026-11-25")
    assert code == 2
    assert "--now goes with --facts" in err


# ---------------------------------------------------------------- piped output


def test_piped_tables_are_not_wrapped_at_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "check", "xp-lab-07", "--facts", str(EXAMPLES / "client-broken.json")
    )
    assert code == 1
    _, out_json, _ = run(
        capsys, "check", "xp-lab-07", "--facts", str(EXAMPLES / "client-broken.json"), "--json"
    )
    report = json.loads(out_json)
    assert max(len(line) for line in out.splitlines()) > 120
    lines = out.splitlines()
    for finding in report["findings"]:
        # every summary is whole on one line of the table
        assert any(finding["summary"] in line for line in lines), finding["summary"]
    assert "\x1b[" not in out  # no colour codes into a pipe


# ---------------------------------------------------------------- logscan progress


LOG = [
    "#Software: Microsoft Internet Information Services 7.5",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip sc-status sc-substatus",
]


def write_logs(tmp_path: Path) -> list[Path]:
    late = tmp_path / "u_ex261125.log"
    late.write_text(
        "\n".join([*LOG, "2026-11-25 07:03:00 10.0.0.9 GET /wutrack.bin - 80 10.20.3.14 404 0"])
        + "\n"
    )
    early = tmp_path / "u_ex261124.log.gz"
    with gzip.open(early, "wt") as stream:
        stream.write(
            "\n".join([*LOG, "2026-11-24 07:00:00 10.0.0.9 GET /wutrack.bin - 80 10.20.3.14 404 0"])
            + "\n"
        )
    return [late, early]


def test_logscan_progress_reads_the_same_in_time_order(tmp_path: Path) -> None:
    paths = write_logs(tmp_path)
    plain = scan_logs(paths)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    shown = scan_logs(paths, progress=console)
    assert isinstance(plain, ScanResult)
    assert isinstance(shown, ScanResult)
    assert shown.to_json() == plain.to_json()
    assert shown.files == [str(paths[1]), str(paths[0])]  # the earlier file first
    assert "scanning" in screen.getvalue()


def test_logscan_json_output_has_no_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "logscan", "--json", *map(str, write_logs(tmp_path)))
    assert code == 1
    assert json.loads(out)["failures"][0]["count"] == 2
    assert "scanning" not in out + err


# ---------------------------------------------------------------- mrkdwn


def spans(text: Text) -> dict[str, str]:
    return {text.plain[s.start : s.end]: str(s.style) for s in text.spans}


def test_mrkdwn_becomes_terminal_styling() -> None:
    text = to_text(
        "*wsus01*: FAIL · _2 checks_ · `server.selfupdate_vdir` · "
        "<https://learn.microsoft.com/x|the article> · a_snake_case_name · 3 &lt; 4 &amp; more"
        "\n&gt; quoted *line*\n```raw *text*```"
    )
    plain = text.plain
    assert "*" not in plain.split("raw")[0]
    assert "`" not in plain
    assert "a_snake_case_name" in plain
    assert "3 < 4 & more" in plain
    assert "▌ quoted line" in plain
    assert "raw *text*" in plain  # verbatim inside ```
    styles = spans(text)
    assert "bold" in styles["wsus01"]
    assert "italic" in styles["2 checks"]
    assert "cyan" in styles["server.selfupdate_vdir"]
    assert "underline" in styles["the article"]
    assert "link https://learn.microsoft.com/x" in styles["the article"]
    assert "<https://learn.microsoft.com/x>" in plain


def test_mentions_and_block_kit() -> None:
    assert to_text("<@U0OPER> in <#C0WSUS|wsus> <!here>").plain == "@U0OPER in #wsus @here"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "fix *a*"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Before*"},
            "fields": [{"type": "mrkdwn", "text": "*AUState*\n`7`"}],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "by _U0OPER_"}]},
        {"type": "actions", "elements": [{"type": "button", "text": {"text": "Approve"}}]},
    ]
    text = blocks_to_text(blocks)
    assert text.plain.splitlines() == [
        "fix *a*",
        "Before",
        "  AUState",
        "7",
        "by U0OPER",
        "[ Approve ]",
    ]


# ---------------------------------------------------------------- db


def test_db_upgrade_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "wsusbot.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    code, out, _ = run(capsys, "-c", str(config), "db", "status")
    assert code == 1
    assert "run `wsusbot db upgrade`" in out
    code, out, _ = run(capsys, "-c", str(config), "db", "upgrade")
    assert code == 0
    assert "upgraded from an empty database to" in out
    code, out, _ = run(capsys, "-c", str(config), "db", "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["up_to_date"] is True
    assert status["current"] == status["heads"]
    code, out, _ = run(capsys, "-c", str(config), "db", "upgrade")
    assert "already at" in out


# ---------------------------------------------------------------- scheduler lag, fixes


def test_scheduler_lag_and_fix_outcomes_are_measured(tmp_path: Path) -> None:
    config = tmp_path / "wsusbot.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    settings = load_settings(config, env={})
    services = Services.open(settings)
    ctx = BotContext(
        services=services,
        chat=FakeChat(),
        authorizer=Authorizer(settings.roles, settings.slack),
        worker=Worker(),
    )
    ran = threading.Event()

    async def due(_ctx: BotContext) -> None:
        ran.set()
        await asyncio.sleep(0)

    ctx.start()
    schedules = Schedules(ctx, due_work=[due], poll_seconds=0.2, leader_check_seconds=0.2)
    try:
        schedules.start()
        assert ran.wait(10)
        ctx.record(
            AuditRecord(
                time=ctx.now(),
                user="U1",
                action=AuditAction.FIX_SUCCEEDED,
                host="xp01",
                fix="client.reset_au_state",
            )
        )
        # a batch's hosts count under the same fix outcomes (a skipped host ran nothing)
        for outcome in ("fixed", "skipped"):
            ctx.record(
                AuditRecord(
                    time=ctx.now(),
                    user="U1",
                    action=AuditAction.BATCH_HOST,
                    outcome=outcome,
                    host="xp02",
                    fix="client.reset_au_state",
                )
            )
    finally:
        schedules.stop()
        ctx.stop()
        services.close()
    metrics: Metrics = services.metrics
    lag = metrics.registry.get_sample_value(
        "wsusbot_scheduler_lag_seconds_count", {"job": "due_work"}
    )
    assert lag is not None
    assert lag >= 1
    fixes = metrics.registry.get_sample_value(
        "wsusbot_fixes_total", {"fix": "client.reset_au_state", "outcome": "succeeded"}
    )
    assert fixes == 2
