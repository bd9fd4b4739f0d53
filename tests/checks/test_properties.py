"""Property: whatever JSON a host sends, parsing yields facts or a WsusbotError, and every
check of the role turns parsed facts into a Finding without raising."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.errors import WsusbotError
from checks.facts import HostFacts, parse_host_facts, role_of
from checks.fixes import fix_ids
from checks.model import CheckContext, Finding
from checks.registry import default_registry
from tests.checks.factories import NOW, client_doc, server_doc

SCHEMAS = [
    "wsusbot.client_facts/1",
    "wsusbot.server_facts/1",
    "wsusbot.iis_log/1",
    "wsusbot.wsus_computers/1",
    "wsusbot.client_facts/2",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            "2026.11.25 13.00.00",
            "2026.13.45 99.99.99",
            "2026-11-25T12:00:00Z",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "7.6.7600.256",
            "5.4.3790.2180",
            "http://wsus01:8530",
            "http://[::1",
            "Running",
            "Disabled",
            "<local>",
            "0x8024402C WARNING: SelfUpdate",
            *SCHEMAS,
        ]
    )
)

json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_facts(draw: st.DrawFn) -> dict[str, Any]:
    """A healthy facts document with a few values replaced or removed (wrong types)."""
    healthy: dict[str, Any] = draw(st.sampled_from([client_doc(), server_doc()]))
    document = copy.deepcopy(healthy)
    paths = _paths(document)
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=6)):
        parent: Any = document
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this branch
    return document


@st.composite
def documents(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["any", "schema", "facts"]))
    if kind == "any":
        return draw(json_values)
    if kind == "schema":
        body = draw(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
        return {**body, "schema": draw(st.sampled_from(SCHEMAS) | st.text(max_size=20))}
    return draw(mutated_facts())


def _parse(document: Any) -> HostFacts | None:
    try:
        return parse_host_facts(document)
    except WsusbotError:
        return None


def _run_all(facts: HostFacts, context: CheckContext) -> None:
    for check in default_registry().for_role(role_of(facts)):
        finding = check.evaluate(facts, context)
        assert isinstance(finding, Finding)
        assert finding.check == check.id
        assert finding.summary
        assert finding.fix is None or finding.fix in fix_ids()


PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(documents())
def test_parse_yields_facts_or_a_wsusbot_error(document: Any) -> None:
    facts = _parse(document)
    if facts is not None:
        _run_all(facts, CheckContext(now=NOW))


@PROPERTY_SETTINGS
@given(
    mutated_facts(), mutated_facts(), st.none() | st.text(max_size=30) | st.just("http://wsus01")
)
def test_checks_never_raise_on_broken_facts_or_history(
    document: dict[str, Any], previous_document: dict[str, Any], expected: str | None
) -> None:
    facts = _parse(document)
    previous = _parse(previous_document)
    if facts is None:
        return
    context = CheckContext(now=NOW, expected_wsus_url=expected, previous=previous)
    _run_all(facts, context)
