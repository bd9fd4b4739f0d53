"""Issue 16 end to end: one approval fixes many hosts — canary first, then waves, halted
on failures, paused/resumed/aborted from the card — through the local Slack and the lab's
``stalled_fleet`` estate scaled to 50 stalled clients (fix probes counted in the lab)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.store.batches import BatchState, BatchStore, StepState
from bot.usecases.batch.decide import BatchDecision, decide_batch
from bot.usecases.context import BotContext
from tests.integration.slack_support import (
    CHANNEL,
    SlackLab,
    actions,
    blocks_text,
    buttons,
    click,
    fix_runs,
    refusal_for,
    slack_lab,
)

OPER, APPR, APPR2 = "U0OPER", "U0APPR", "U0APPR2"
FIX = "client.reset_au_state"
PROBE = "fix_reset_au_state"
#: stalled_fleet's fleet01 and fleet02 plus 48 copies of fleet01
SCENARIO = "stalled_fleet+48"
CLIENTS = ["fleet01", "fleet02", *(f"stall{i:03d}" for i in range(1, 49))]


def ctx_of(lab: SlackLab) -> BotContext:
    assert lab.runtime.ctx is not None
    return lab.runtime.ctx


def test_canary_failure_runs_nothing_else(tmp_path: Path, monkeypatch: Any) -> None:
    import bot.sites.routing

    keys: list[str] = []
    real_run = bot.sites.routing.SiteFixRunner.run

    async def recording(self: Any, target: Any, fix: Any, deadline: float, *, key: str) -> Any:
        keys.append(key)
        return await real_run(self, target, fix, deadline, key=key)

    # a batch's fix goes through the same site-aware runner as a single fix, keyed per step
    monkeypatch.setattr(bot.sites.routing.SiteFixRunner, "run", recording)
    with batch_lab(tmp_path) as lab:
        lab.estate.host("fleet01").faults.fail_fixes = {PROBE}
        requested = request(lab)
        click(lab, APPR, requested, "batch_approve").wait_ack(5)
        halted = batch_card(lab, "halted", timeout=60)
        lab.drain()
        text = blocks_text(halted.blocks)
        assert "the canary did not pass" in text
        assert "Access is denied" in text
        assert sum(fix_runs(lab, h, PROBE) for h in CLIENTS) == 1
        steps = store(lab).steps(only_batch(lab))
        assert [s.state for s in steps].count(StepState.SKIPPED) == 49
        assert "fixed 0 · failed 1 · unverified 0 · skipped 49" in thread_text(lab, halted.ts)
        assert "batch_halted" in actions(lab)
        assert keys == [f"{only_batch(lab)}:fleet01"]


def test_halts_when_the_second_wave_exceeds_the_threshold(tmp_path: Path) -> None:
    with batch_lab(tmp_path) as lab:
        # positions 11..20 are wave 2 (canary fleet01, wave 1 = fleet02 + stall001..009)
        for host in ("stall012", "stall015"):
            lab.estate.host(host).faults.fail_fixes = {PROBE}
        requested = request(lab)
        click(lab, APPR, requested, "batch_approve").wait_ack(5)
        settle_canary(lab)
        halted = batch_card(lab, "halted", timeout=120)
        lab.drain()
        text = blocks_text(halted.blocks)
        assert "2 of 10 hosts in wave 2 failed, more than the threshold of 1" in text
        steps = store(lab).steps(only_batch(lab))
        by_wave = {w: [s.state for s in steps if s.wave == w] for w in range(6)}
        assert by_wave[1] == [StepState.FIXED] * 10
        assert by_wave[2].count(StepState.FAILED) == 2
        assert all(state is StepState.SKIPPED for w in (3, 4, 5) for state in by_wave[w])
        assert all(fix_runs(lab, s.host, PROBE) == 0 for s in steps if s.wave >= 3)


def test_pause_resume_and_abort_from_the_card(tmp_path: Path) -> None:
    with batch_lab(tmp_path, batch__pause_between_waves_s=5) as lab:
        requested = request(lab)
        click(lab, APPR, requested, "batch_approve").wait_ack(5)
        settle_canary(lab)
        batch_id = only_batch(lab)
        canary = lab.slack.wait_for(
            lambda: next(
                (s for s in store(lab).steps(batch_id)[:1] if s.state is not StepState.STARTED),
                None,
            ),
            timeout=90,
            description="canary finished",
        )
        assert canary.state is StepState.FIXED, (canary, store(lab).get(batch_id))
        click(lab, APPR2, requested, "batch_pause").wait_ack(5)
        paused = batch_card(lab, "paused")
        assert {b["action_id"] for b in buttons(paused)} == {"batch_resume", "batch_abort"}
        lab.drain()
        before = sum(fix_runs(lab, h, PROBE) for h in CLIENTS)
        pending = store(lab).counts(batch_id)[StepState.PENDING]
        assert pending > 0
        click(lab, APPR, requested, "batch_resume").wait_ack(5)
        lab.slack.wait_for(
            lambda: sum(fix_runs(lab, h, PROBE) for h in CLIENTS) > before or None,
            timeout=60,
            description="resumed hosts",
        )
        click(lab, APPR, requested, "batch_abort").wait_ack(5)
        aborted = batch_card(lab, "aborted")
        lab.drain()
        assert not buttons(aborted)
        counts = store(lab).counts(batch_id)
        assert counts[StepState.PENDING] == 0
        assert counts[StepState.SKIPPED] > 0
        # every host ran at most once
        assert all(fix_runs(lab, h, PROBE) <= 1 for h in CLIENTS)
        assert (
            sum(fix_runs(lab, h, PROBE) for h in CLIENTS)
            == counts[StepState.FIXED] + counts[StepState.FAILED] + counts[StepState.UNVERIFIED]
        )
        audit = actions(lab)
        assert audit.count("batch_paused") == 1
        assert audit.count("batch_resumed") == 1
        assert audit.count("batch_aborted") == 1
        token = buttons(paused)[0]["value"]
        text = decide_batch(
            ctx_of(lab),
            user=APPR,
            channel=CHANNEL,
            decision=BatchDecision.RESUME,
            token_value=token,
        )
        assert text is not None
        assert "already aborted" in text


def test_twenty_concurrent_approvals_run_one_batch(tmp_path: Path) -> None:
    with batch_lab(tmp_path) as lab:
        requested = request(lab)
        with ThreadPoolExecutor(20) as pool:
            deliveries = list(
                pool.map(
                    lambda user: click(lab, user, requested, "batch_approve", stale=True),
                    [APPR, APPR2] * 10,
                )
            )
        for delivery in deliveries:
            delivery.wait_ack(10)
        lab.slack.wait_for(
            lambda: len(lab.slack.responses()) >= 19 or None, timeout=30, description="refusals"
        )
        assert all("already" in str(r.body.get("text")) for r in lab.slack.responses())
        settle_canary(lab)
        batch_card(lab, "completed", timeout=120)
        lab.drain()
        assert all(fix_runs(lab, h, PROBE) == 1 for h in CLIENTS)
        assert actions(lab).count("batch_approved") == 1
        assert actions(lab).count("batch_host") == 50


def check_all(lab: SlackLab, hosts: list[str]) -> None:
    """Every client checked once (as ``/wsus check`` would), so its latest check proposes
    the fix."""
    ctx = ctx_of(lab)

    async def run() -> None:
        runner = await ctx.runner()
        targets = [ctx.services.inventory.resolve(h) for h in hosts]
        await asyncio.gather(*(runner.check(t, OPER) for t in targets))

    ctx.worker.call(run, timeout=180)


def batch_card(lab: SlackLab, state: str | None = None, timeout: float = 60.0) -> Any:
    def find() -> Any:
        for message in lab.slack.messages(CHANNEL):
            if message.text.startswith(f"batch {FIX} ") and (
                state is None or message.text.endswith(f": {state}")
            ):
                return message
        return None

    try:
        return lab.slack.wait_for(find, timeout=timeout, description=f"batch card {state}")
    except TimeoutError:
        shown = [m.text + blocks_text(m.blocks)[:3000] for m in lab.slack.messages(CHANNEL)]
        raise AssertionError(f"no batch card {state}; messages: {shown}") from None


def thread_text(lab: SlackLab, ts: str) -> str:
    return " ".join(
        m.text + blocks_text(m.blocks) for m in lab.slack.messages(CHANNEL, thread_ts=ts)
    )


def store(lab: SlackLab) -> BatchStore:
    return BatchStore(ctx_of(lab).services.db)


def only_batch(lab: SlackLab) -> str:
    found = store(lab).in_states(*BatchState)
    assert len(found) == 1
    return found[0].id


@contextmanager
def batch_lab(tmp_path: Path, **overrides: Any) -> Iterator[SlackLab]:
    settings: dict[str, Any] = {
        "batch__wave_size": 10,
        "batch__concurrency": 10,
        "batch__pause_between_waves_s": 0,
        "batch__failure_threshold": 1,
        "runner__concurrency": 16,
        "roles__approvers": [OPER, APPR, APPR2],
    }
    settings.update(overrides)
    with slack_lab(SCENARIO, tmp_path, **settings) as lab:
        check_all(lab, CLIENTS)
        yield lab


def settle_canary(lab: SlackLab) -> None:
    """Resetting the AU state shows 6-10 minutes later (the lab's detection delay): the
    canary waits that long by the bot's clock before its verifying checks run. Move both
    clocks on once it waits."""
    lab.slack.wait_for(
        lambda: "verifying checks run in" in blocks_text(batch_card(lab).blocks) or None,
        timeout=60,
        description="the canary waiting",
    )
    # the canary waits 10 minutes (the lab's detection runs within them) and holds its
    # lease for 2 minutes past that
    lab.estate.clock.advance(timedelta(minutes=10))
    lab.clock.advance(timedelta(minutes=10))


def request(lab: SlackLab, group: str = "lab") -> Any:
    lab.command(OPER, f"fix {FIX} group {group}").wait_ack(5)
    return batch_card(lab, "requested")


def test_fifty_hosts_one_approval_canary_then_waves(tmp_path: Path) -> None:
    with batch_lab(tmp_path) as lab:
        requested = request(lab)
        text = blocks_text(requested.blocks)
        assert "50 (group lab)" in text
        assert "risk: *low*" in text
        assert "canary `fleet01` first" in text
        assert "5 wave(s) of up to 10 hosts" in text
        assert "more than 1 host of a wave" in text
        # wsus01 is in the group too; its latest check proposes no client fix
        assert "Left out:* 1 host" in text
        assert "expires:" in text
        # the full host list as a CSV in the card's thread
        hosts_csv = lab.slack.wait_for(
            lambda: [f for f in lab.slack.files() if f.filename.endswith("-hosts.csv")] or None,
            timeout=10,
            description="host CSV",
        )[0]
        assert hosts_csv.thread_ts == requested.ts
        assert {b["action_id"] for b in buttons(requested)} == {"batch_approve", "batch_deny"}
        assert "two-person rule" in refusal_for(lab, click(lab, OPER, requested, "batch_approve"))
        click(lab, APPR, requested, "batch_approve").wait_ack(5)
        settle_canary(lab)
        done = batch_card(lab, "completed", timeout=240)
        lab.drain()
        assert all(fix_runs(lab, host, PROBE) == 1 for host in CLIENTS)
        steps = store(lab).steps(only_batch(lab))
        canary = [s for s in steps if s.wave == 0]
        assert canary[0].state is StepState.FIXED
        assert {s.state for s in steps} == {StepState.FIXED}
        assert [s.host for s in canary] == ["fleet01"]
        # the canary finished before any other host started
        first_wave = min(s.started_at for s in steps if s.wave == 1 and s.started_at)
        assert canary[0].finished_at is not None
        assert canary[0].finished_at <= first_wave
        # progress: one message edited in place, never one message per host
        assert len(lab.slack.messages(CHANNEL)) == 1
        assert len(done.edits) > 3
        assert "fixed 50" in blocks_text(done.blocks)
        assert not buttons(done)
        summary = thread_text(lab, done.ts)
        assert "fixed 50 · failed 0 · unverified 0 · skipped 0" in summary
        assert "follow-up check(s) are scheduled" in summary
        report = next(f for f in lab.slack.files() if f.filename.endswith("-summary.csv"))
        assert report.content is not None
        rows = list(csv.DictReader(io.StringIO(report.content.decode())))
        assert len(rows) == 50
        assert {r["state"] for r in rows} == {"fixed"}
        audit = actions(lab)
        assert audit.count("batch_requested") == 1
        assert audit.count("batch_approved") == 1
        assert audit.count("batch_host") == 50
        assert audit.count("batch_completed") == 1
        # the follow-ups (10 minutes; the 24-hour LastWaitTimeout rule) run when due and
        # are summarised once in the thread
        assert lab.runtime.schedules is not None
        lab.estate.clock.advance(timedelta(minutes=11))
        lab.clock.advance(timedelta(minutes=11))
        lab.runtime.schedules.run_due_now()
        lab.slack.wait_for(
            lambda: "follow-ups of batch" in thread_text(lab, done.ts) or None,
            timeout=120,
            description="follow-up summary",
        )
        lab.runtime.schedules.run_due_now()
        lab.drain()
        text = thread_text(lab, done.ts)
        posts = lab.slack.messages(CHANNEL, thread_ts=done.ts)
        assert sum("follow-ups of batch" in m.text for m in posts) == 1
        assert "recovered 50" in text
        assert actions(lab).count("batch_followup") == 50
