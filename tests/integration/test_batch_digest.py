"""A digest cause group's "Fix these hosts" button opens one batch for its hosts (the
ones the inventory resolves and whose latest check proposes the cause's fix)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.digest.causes import Cause
from bot.usecases.batch.request import CAUSE_FIXES
from tests.integration.slack_support import CHANNEL, blocks_text, slack_lab
from tests.integration.test_batch import FIX, OPER, check_all

CLIENTS = ["fleet01", "fleet02", *(f"stall{i:03d}" for i in range(1, 9))]


def test_fix_these_hosts_opens_one_batch_in_the_digest_thread(tmp_path: Path) -> None:
    assert CAUSE_FIXES[Cause.DETECTION_STALLED] == FIX
    with slack_lab("stalled_fleet+8", tmp_path) as lab:
        check_all(lab, CLIENTS)
        lab.command(OPER, "digest").wait_ack(5)
        digest: Any = lab.slack.wait_for(
            lambda: next(
                (m for m in lab.slack.messages(CHANNEL) if m.text.startswith("WSUS digest")), None
            ),
            timeout=90,
            description="digest",
        )
        stalled = next(b for b in digest.blocks if b.get("block_id") == "cause:detection_stalled")
        assert stalled["accessory"]["action_id"] == "batch_digest"
        assert stalled["accessory"]["text"]["text"] == "Fix these hosts"
        # the cause without a batch fix has no button
        iis = next(b for b in digest.blocks if b.get("block_id") == "cause:iis_failures")
        assert "accessory" not in iis
        lab.slack.click_button(OPER, CHANNEL, digest.ts, "batch_digest").wait_ack(5)
        card: Any = lab.slack.wait_for(
            lambda: next(
                (
                    m
                    for m in lab.slack.messages(CHANNEL, thread_ts=digest.ts)
                    if m.text.startswith(f"batch {FIX} ")
                ),
                None,
            ),
            timeout=30,
            description="batch card in the digest thread",
        )
        text = blocks_text(card.blocks)
        assert "detection_stalled" in text
        # fleet02 only warns: the cause group (FAILs) holds fleet01 and the copies
        assert card.text.startswith(f"batch {FIX} on 9 hosts")
        # a double click opens nothing more
        again = lab.slack.click_button(OPER, CHANNEL, digest.ts, "batch_digest")
        posts = lab.slack.wait_for(
            lambda: lab.slack.responses(again.id) or None, timeout=10, description="refusal"
        )
        assert "already open" in str(posts[-1].body.get("text"))
