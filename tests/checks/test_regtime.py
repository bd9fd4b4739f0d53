"""Registry times as Automatic Updates writes them.

Real sample (smallvoid.com, "Configure the behavior of the Automatic Updates service",
http://smallvoid.com/article/winnt-automatic-updates-config.html):
    DetectionStartTime = "2003.09.10 12:38:10" (Local Time, detection process began)
    LastWaitTimeout= "2003.09.10 11:43:10" (GMT Time, next time to check for updates)
Microsoft's text writes the form as YYYY.MM.DD HH.MM.SS (Cc708554 §10), still accepted.
"""

from datetime import UTC, datetime

import pytest

from checks.errors import FactsError
from checks.regtime import (
    RegTimeError,
    format_registry_time,
    parse_registry_time,
    parse_utc_registry_time,
)


def test_the_published_sample_parses() -> None:
    # DetectionStartTime (local) and LastWaitTimeout (UTC) of the sample quoted above
    assert parse_registry_time("2003.09.10 12:38:10") == datetime(2003, 9, 10, 12, 38, 10)
    assert parse_utc_registry_time("2003.09.10 11:43:10") == datetime(
        2003, 9, 10, 11, 43, 10, tzinfo=UTC
    )


def test_the_documented_dotted_form_still_parses() -> None:
    assert parse_registry_time("2026.11.25 09.05.07") == datetime(2026, 11, 25, 9, 5, 7)


def test_utc_time_is_aware() -> None:
    assert parse_utc_registry_time("2026.11.25 23:59:59") == datetime(
        2026, 11, 25, 23, 59, 59, tzinfo=UTC
    )


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_registry_time(" \t2026.01.02 03:04:05\r\n") == datetime(2026, 1, 2, 3, 4, 5)


def test_format_writes_the_real_colon_form() -> None:
    assert format_registry_time(datetime(2003, 9, 10, 12, 38, 10)) == "2003.09.10 12:38:10"


def test_round_trip() -> None:
    moment = datetime(2004, 2, 29, 0, 0, 0)
    assert parse_registry_time(format_registry_time(moment)) == moment


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25 09:05:07",
        "2026.11.25",
        "2026.11.25 09.05",
        "2026.11.25  09.05.07",
        "2026.11.25T09.05.07",
        "25.11.2026 09.05.07",
        "2026.11.25 09.05.07 extra",
        "2026.11.25 09:05.07",
        "2026.11.25 09.05:07",
        "2026:11:25 09:05:07",
        "２０２６.11.25 09.05.07",
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(RegTimeError, match="not in the form"):
        parse_registry_time(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026.13.01 00:00:00",
        "2026.11.25 25:00:00",
        "2026.02.30 00:00:00",
        "2026.11.25 12:60:00",
        "2026.11.25 12.60.00",
        "2026.00.10 00.00.00",
        "0000.01.01 00.00.00",
    ],
)
def test_out_of_range(text: str) -> None:
    with pytest.raises(RegTimeError, match="out of range"):
        parse_registry_time(text)


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty(text: str) -> None:
    with pytest.raises(RegTimeError, match="empty"):
        parse_registry_time(text)


def test_is_a_facts_error_and_bounds_the_echoed_text() -> None:
    with pytest.raises(FactsError) as caught:
        parse_registry_time("x" * 5000)
    assert len(str(caught.value)) < 200
