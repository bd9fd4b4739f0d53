"""Hostile parameter values change line 2 of a rendered script and nothing else."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.probes import PARAMS_LINE_RE, PROBE_NAMES, render, render_bundle
from tests.handlers.probes.samples import HOSTILE_STRINGS, SERVER_BUNDLE

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.text(max_size=40),
    st.text(alphabet="'\"`$;(){}@#<>%-\n\r\t\x00|&", max_size=40),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)
hostile_params = st.dictionaries(hostile_text, json_values, min_size=1, max_size=5)


def _assert_only_line_two_differs(script: str, benign: str, params: Mapping[str, object]) -> None:
    lines = script.split("\n")
    benign_lines = benign.split("\n")
    assert len(lines) == len(benign_lines)
    assert lines[0] == benign_lines[0]
    assert lines[2:] == benign_lines[2:]
    line2 = lines[1]
    assert line2.isascii()
    match = PARAMS_LINE_RE.fullmatch(line2)
    assert match is not None, line2[:200]
    decoded = base64.b64decode(match.group(1), validate=True).decode("utf-8")
    assert json.loads(decoded) == params


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(PROBE_NAMES), params=hostile_params)
def test_hostile_values_only_change_line_two(name: str, params: dict[str, object]) -> None:
    _assert_only_line_two_differs(render(name, params), render(name, {"k": "x"}), params)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=hostile_params)
def test_hostile_values_only_change_line_two_of_a_bundle(params: dict[str, object]) -> None:
    parts = {name: params for name in SERVER_BUNDLE}
    benign = render_bundle({name: {"k": "x"} for name in SERVER_BUNDLE})
    _assert_only_line_two_differs(render_bundle(parts), benign, {"probes": parts})


def test_every_hostile_sample_in_every_probe() -> None:
    for name in PROBE_NAMES:
        benign = render(name, {"k": "x"})
        for value in HOSTILE_STRINGS:
            params = {"k": value, value: [value, {value: value}]}
            _assert_only_line_two_differs(render(name, params), benign, params)
