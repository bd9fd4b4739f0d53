"""The fleet ``check --json`` output is written one report at a time, as the same text."""

from __future__ import annotations

import json

import pytest

from bot.cli.live import print_json_list
from bot.cli.state import print_json


@pytest.mark.parametrize(
    "items",
    [
        [],
        [{"host": "a", "verdict": "pass"}],
        [
            {"host": "ä\nb", "findings": [{"evidence": ["x\ny", 'q"'], "n": 1}], "e": {}},
            {"host": "c", "list": [], "none": None, "nested": {"k": [1, 2.5, True]}},
        ],
    ],
)
def test_the_streamed_list_is_exactly_what_print_json_prints(
    items: list[dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    print_json(items)
    whole = capsys.readouterr().out
    print_json_list(iter(items))
    streamed = capsys.readouterr().out
    assert streamed == whole
    assert json.loads(streamed) == items
