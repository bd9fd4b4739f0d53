"""Helpers shared by the check modules (client and server): probe errors, HTTP results,
times and short evidence lists. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from checks.facts import HttpResult, ProbeError
from checks.model import Finding, FindingBuilder

#: how many names or log lines a finding quotes before "and N more"
QUOTE_LIMIT = 10


def probe_errors(errors: Sequence[ProbeError] | None, *sources: str) -> list[str]:
    """Evidence lines for the probe's ``errors[]`` entries about any of ``sources``.

    A source matches when the probe's ``source`` starts with it (case-insensitively), so
    ``policy`` matches ``policy`` and ``policy.AU``. With no sources, every entry counts
    (for an embedded document whose errors are all about itself).
    """
    wanted = tuple(source.lower() for source in sources)
    lines = []
    for error in errors or ():
        source = (error.source or "").lower()
        if not wanted or (source and source.startswith(wanted)):
            lines.append(f"probe error ({error.source}): {shorten(error.message or '', 200)}")
    return lines


def missing(
    builder: FindingBuilder,
    field: str,
    errors: Sequence[ProbeError] | None,
    *sources: str,
) -> Finding:
    """The ``unknown`` finding for a fact that could not be read."""
    evidence = [f"{field} is missing from the facts"]
    evidence += probe_errors(errors, *sources)
    return builder.unknown(f"Could not read {field}.", evidence)


def sentence(parts: Sequence[str]) -> str:
    """``["WsusService is stopped", "W3SVC is disabled"]`` -> one capitalised sentence."""
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote_names(names: Sequence[str], limit: int = QUOTE_LIMIT) -> str:
    """``a, b, c`` or ``a, b, ... and 123 more`` so a large fleet stays readable."""
    shown = ", ".join(names[:limit])
    more = len(names) - limit
    return f"{shown} and {more} more" if more > 0 else shown


def url_path(url: str) -> str:
    """The lower-cased path of a URL without a trailing slash ('' when unparsable)."""
    try:
        return urlsplit(url.strip()).path.lower().rstrip("/")
    except ValueError:
        return ""


def url_host(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host or None


def find_http(results: Iterable[HttpResult], path_suffix: str) -> HttpResult | None:
    """The first request whose URL path ends with ``path_suffix`` (case-insensitive)."""
    suffix = path_suffix.lower()
    for result in results:
        if result.url and url_path(result.url).endswith(suffix):
            return result
    return None


def outcome(result: HttpResult) -> str:
    """``HTTP 404`` / ``no answer (refused)`` for one request."""
    if result.status is not None:
        return f"HTTP {result.status}"
    return f"no answer ({result.error or 'no status recorded'})"


def describe(result: HttpResult) -> str:
    return f"{result.url}: {outcome(result)}"


def http_cause(result: HttpResult) -> str:
    """What a failed request to a WSUS/IIS path usually means (Cc708554 §5, §6)."""
    status, error = result.status, (result.error or "").lower()
    if status is None:
        if "refused" in error:
            return "nothing accepts connections there (site stopped, no binding, or firewall)"
        if "timeout" in error:
            return "the request timed out (firewall dropping packets, or the server hangs)"
        if "dns" in error:
            return "the host name does not resolve"
        return "the request got no HTTP answer"
    if status in (401, 403):
        return (
            "access denied: anonymous authentication is off, or SharePoint is intercepting "
            "the path (seed §6)"
        )
    if status == 404:
        return "not found: the virtual directory or file is missing (or this is not a WSUS server)"
    if status == 500:
        return "the server hit an application error (ASP.NET / IIS configuration)"
    if status == 503:
        return "service unavailable: the application pool (WsusPool) is stopped or crashing"
    if 300 <= status < 400:
        return "redirected (often to a login page or another site)"
    return f"unexpected HTTP status {status}"


def parse_iso_utc(text: str) -> datetime:
    """ISO-8601 time as UTC (naive values are taken as UTC); raises ``ValueError``."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+05:00 has no UTC equivalent
        raise ValueError(f"time out of range: {exc}") from None


def as_utc(moment: datetime) -> datetime:
    """``ctx.now`` as an aware UTC datetime (a naive clock is taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hours(value: float) -> str:
    return f"{value:.1f} h"


def days(value: float) -> str:
    return f"{value:.1f} days"
