"""The full stalled list as CSV (attached to the digest when the message cannot name all)."""

from __future__ import annotations

import csv
import io

from bot.digest.causes import Digest

COLUMNS = ("host", "causes", "server", "details")


def _safe(cell: str) -> str:
    # a cell starting with = + - @ is a formula in spreadsheet programs; host-supplied
    # names must never run as one
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def to_csv(digest: Digest) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for host, sightings in sorted(digest.by_host().items()):
        servers = sorted({s.server for s in sightings if s.server})
        writer.writerow(
            [
                _safe(host),
                ";".join(s.cause.value for s in sightings),
                _safe(";".join(servers)),
                _safe(" | ".join(f"{s.cause.value}: {s.detail}" for s in sightings)),
            ]
        )
    return out.getvalue()


def csv_filename(digest: Digest) -> str:
    stamp = digest.generated_at.strftime("%Y%m%d-%H%M")
    return f"wsus-digest-{digest.digest_id}-{stamp}.csv"
