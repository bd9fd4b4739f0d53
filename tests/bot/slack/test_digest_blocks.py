"""The digest message: Slack's limits hold for any estate size, names are escaped, the
CSV carries every stalled host."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from slack_sdk.models.blocks import SectionBlock

from bot.digest.causes import NAMES_PER_CAUSE, ORDER, Cause, Digest, ServerNotRead, Sighting
from bot.digest.export import to_csv
from bot.digest.trend import Trend, compare
from bot.slack.blocks.common import Message
from bot.slack.blocks.digest import HEALTHY_TEXT
from bot.slack.blocks.digest import digest_message as render_digest
from bot.slack.blocks.digest import healthy_message as render_healthy
from bot.slack.ids import DIGEST_CHECK as CHECK_ACTION
from bot.views import DigestView, HealthyDigestView, TopHost


def digest_message(
    digest: Digest, trend: Trend, top: list[TopHost], *, csv_attached: bool
) -> Message:
    return render_digest(DigestView(digest, trend, tuple(top), csv_attached))


def healthy_message(digest: Digest) -> Message:
    return render_healthy(HealthyDigestView(digest))


def fits_in_message(digest: Digest) -> bool:
    return digest.fits_in_message()


NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def big_digest(count: int) -> Digest:
    digest = Digest("morning", NOW, servers_read=["wsus01"], computers_seen=count)
    for index in range(count):
        host = f"pc{index:05d}.very-long-domain-name-{'x' * 40}.example"
        digest.add([Sighting(host, ORDER[index % len(ORDER)], "d" * 400, "wsus01", index)])
    return digest


def top_for(digest: Digest, count: int) -> list[TopHost]:
    by_host = digest.by_host()
    return [TopHost(h, tuple(by_host[h]), f"tok{i}") for i, h in enumerate(digest.top_hosts(count))]


def test_a_thousand_stalled_hosts_still_make_a_valid_message() -> None:
    digest = big_digest(1000)
    trend = compare(digest.stalled, {f"gone{i}": [] for i in range(300)})
    message = digest_message(digest, trend, top_for(digest, 20), csv_attached=True)
    payload = message.as_kwargs()
    blocks = payload["blocks"]
    assert isinstance(blocks, list)
    assert len(blocks) <= 50
    for block in message.blocks:
        block.validate_json()
        if isinstance(block, SectionBlock) and block.text is not None:
            assert len(block.text.text) <= 3000
    assert not fits_in_message(digest)
    assert "1000 clients stalled" in message.text
    assert "… and" in str(blocks)
    assert "CSV" in str(blocks[-1])
    rows = list(csv.DictReader(io.StringIO(to_csv(digest))))
    assert len(rows) == 1000
    assert {r["host"] for r in rows} == set(digest.stalled)


def test_sections_per_cause_with_counts_and_buttons() -> None:
    digest = Digest("morning", NOW, servers_read=["wsus01"], computers_seen=3)
    digest.checkable = frozenset({"fleet01"})
    digest.add(
        [
            Sighting("fleet01", Cause.DETECTION_STALLED, "stalled 10 days"),
            Sighting("pc1", Cause.STALE_SYNC, "never synced"),
            Sighting("pc1", Cause.OLD_AGENT, "agent 5.8.0.2469"),
        ]
    )
    digest.not_read.append(ServerNotRead("wsus02", "unreachable"))
    by_host = digest.by_host()
    top = [
        TopHost("fleet01", tuple(by_host["fleet01"]), "tok"),
        TopHost("pc1", tuple(by_host["pc1"]), None),
    ]
    message = digest_message(digest, compare(digest.stalled, None), top, csv_attached=False)
    dumped = [b.to_dict() for b in message.blocks]
    causes = {
        d["block_id"]: d["text"]["text"]
        for d in dumped
        if str(d.get("block_id", "")).startswith("cause:")
    }
    assert set(causes) == {"cause:detection_stalled", "cause:stale_sync", "cause:old_agent"}
    assert "— 1 host" in causes["cause:stale_sync"]
    buttons = [d["accessory"] for d in dumped if d.get("accessory")]
    assert buttons == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Check"},
            "action_id": CHECK_ACTION,
            "value": "tok",
        }
    ]
    assert "not read: wsus02 (unreachable)" in str(dumped)
    assert "not read: wsus02 (unreachable)" in message.text
    assert fits_in_message(digest)


def test_names_from_the_estate_are_escaped() -> None:
    digest = Digest("d", NOW)
    digest.add([Sighting("<!channel>&<http://evil|x>", Cause.STALE_SYNC, "<@U1>")])
    by_host = digest.by_host()
    host = "<!channel>&<http://evil|x>"
    message = digest_message(
        digest,
        compare(digest.stalled, None),
        [TopHost(host, tuple(by_host[host]), None)],
        csv_attached=False,
    )
    text = str([b.to_dict() for b in message.blocks])
    assert "<!channel>" not in text
    assert "<@U1>" not in text
    assert "&lt;!channel&gt;&amp;" in text


def test_csv_cells_cannot_be_formulas() -> None:
    digest = Digest("d", NOW)
    digest.add([Sighting("=cmd|' /C calc'!A0", Cause.STALE_SYNC, "x", "+wsus")])
    row = next(csv.DictReader(io.StringIO(to_csv(digest))))
    assert row["host"].startswith("'=")
    assert row["server"].startswith("'+")


def test_healthy_is_one_line() -> None:
    digest = Digest("d", NOW, servers_read=["wsus01"], computers_seen=12)
    message = healthy_message(digest)
    assert message.text == HEALTHY_TEXT
    assert len(message.blocks) == 1


def test_names_per_cause_limit_decides_the_csv() -> None:
    digest = Digest("d", NOW)
    digest.add(Sighting(f"pc{i}", Cause.STALE_SYNC, "x") for i in range(NAMES_PER_CAUSE))
    assert fits_in_message(digest)
    digest.add([Sighting("one-more", Cause.STALE_SYNC, "x")])
    assert not fits_in_message(digest)
