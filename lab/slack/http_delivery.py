"""How Slack posts to a bot in HTTP mode: body encoding and request signing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from lab.slack.deliveries import Delivery

STALE_AGE_SECONDS = 600  # Bolt rejects anything older than 300 s


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, as Slack computes it."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]


def encode_body(delivery: Delivery) -> tuple[bytes, str]:
    if delivery.envelope_type == "slash_commands":
        return urlencode(delivery.payload).encode(), "application/x-www-form-urlencoded"
    if delivery.envelope_type == "interactive":
        form = urlencode({"payload": json.dumps(delivery.payload)})
        return form.encode(), "application/x-www-form-urlencoded"
    return json.dumps(delivery.payload).encode(), "application/json"


def signed_request(
    delivery: Delivery, signing_secret: str, retry_attempt: int, *, now: float | None = None
) -> SignedRequest:
    body, content_type = encode_body(delivery)
    sent_at = int(time.time() if now is None else now)
    if delivery.tamper == "stale_timestamp":
        sent_at -= STALE_AGE_SECONDS
    timestamp = str(sent_at)
    secret = signing_secret
    if delivery.tamper == "bad_signature":
        secret = signing_secret + "-not-the-secret"
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(secret, timestamp, body),
    }
    if retry_attempt:
        headers["X-Slack-Retry-Num"] = str(retry_attempt)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return SignedRequest(body, headers)
