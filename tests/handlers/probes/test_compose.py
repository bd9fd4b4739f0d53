"""The composer: loading, rendering, bundles, the stager and parameter validation."""

from __future__ import annotations

import base64
import json
import re

import pytest

from checks.errors import UsageError
from checks.facts import BUNDLE
from checks.fixes import FIXES
from handlers.probes import (
    BUNDLE_NAME,
    FACTS_SCHEMAS,
    FIX_IDS,
    PARAMS_LINE_RE,
    PROBE_NAMES,
    STAGER_HEADER,
    command_line_length,
    encoded_command,
    extract_params,
    load,
    params_line,
    parse_header,
    render,
    render_bundle,
    stager,
)
from tests.handlers.probes.samples import SAMPLE_PARAMS, SERVER_BUNDLE

HEADER_RE = re.compile(r"# wsusbot-probe: [a-z0-9_]+ v[0-9]+")


def test_probe_names_cover_facts_and_every_executable_fix() -> None:
    assert set(PROBE_NAMES) == set(FACTS_SCHEMAS) | set(FIX_IDS)
    executable = {fix.probe for fix in FIXES if fix.executable}
    assert executable == set(FIX_IDS)
    assert {FIX_IDS[fix.probe] for fix in FIXES if fix.probe} == {
        fix.id for fix in FIXES if fix.executable
    }


@pytest.mark.parametrize("name", PROBE_NAMES)
def test_load_reads_name_version_and_body(name: str) -> None:
    probe = load(name)
    assert probe.name == name
    assert probe.version == 1
    assert probe.header == f"# wsusbot-probe: {name} v1"
    assert f"function Invoke-WsusbotProbe_{name} {{" in probe.body
    assert "$params" not in probe.body.split("\n", 1)[0]


@pytest.mark.parametrize("name", PROBE_NAMES)
def test_render_is_header_params_line_body(name: str) -> None:
    script = render(name, SAMPLE_PARAMS[name])
    header, line2, body = script.split("\n", 2)
    assert HEADER_RE.fullmatch(header)
    assert parse_header(script) == (name, 1)
    assert PARAMS_LINE_RE.fullmatch(line2)
    assert body == load(name).body
    assert extract_params(script) == SAMPLE_PARAMS[name]
    assert script.isascii()
    # the body's last line hands $params to the entry point, nothing else reads it first
    assert body.rstrip("\n").rsplit("\n", 1)[1].endswith(" $params")


def test_facts_entry_line_names_its_schema() -> None:
    for name, schema in FACTS_SCHEMAS.items():
        last = load(name).body.rstrip("\n").rsplit("\n", 1)[1]
        assert last == f"Invoke-WsusbotFactsMain '{name}' '{schema}' $params"


def test_fix_entry_line_names_its_fix_id() -> None:
    for name, fix_id in FIX_IDS.items():
        last = load(name).body.rstrip("\n").rsplit("\n", 1)[1]
        assert last == f"Invoke-WsusbotFixMain '{name}' '{fix_id}' $params"


def test_params_line_exact_form() -> None:
    line = params_line({"timeout_ms": 5000})
    b64 = base64.b64encode(b'{"timeout_ms":5000}').decode()
    assert line == (
        f"$params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{b64}'))"
    )


def test_params_carry_utf8_json() -> None:
    line = params_line({"dir": "D:\\ログ"})
    b64 = PARAMS_LINE_RE.fullmatch(line).group(1)  # type: ignore[union-attr]
    assert json.loads(base64.b64decode(b64).decode("utf-8")) == {"dir": "D:\\ログ"}
    assert "ログ".encode() in base64.b64decode(b64)


@pytest.mark.parametrize("name", ["nope", "bundle", "stager", "", "CLIENT_FACTS", "../x"])
def test_unknown_probe_is_a_usage_error(name: str) -> None:
    with pytest.raises(UsageError, match="unknown probe"):
        render(name, {})
    with pytest.raises(UsageError, match="unknown probe"):
        load(name)


@pytest.mark.parametrize(
    "params",
    [
        {"when": object()},
        {"set": {1, 2}},
        {"tuple": (1, 2)},
        {"bytes": b"x"},
        {"nan": float("nan")},
        {"inf": [float("inf")]},
        {"nested": {"key": {3: "non-string key"}}},
        {"surrogate": "\ud800"},
    ],
)
def test_non_json_parameters_are_usage_errors(params: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        render("client_facts", params)


def test_parameters_must_be_a_mapping() -> None:
    with pytest.raises(UsageError):
        render("client_facts", ["not", "a", "mapping"])  # type: ignore[arg-type]


def test_deeply_nested_parameters_are_refused() -> None:
    value: object = "leaf"
    for _ in range(40):
        value = [value]
    with pytest.raises(UsageError, match="nested"):
        render("wsus_computers", {"deep": value})


def test_bundle_shape() -> None:
    script = render_bundle(SERVER_BUNDLE)
    header, line2, body = script.split("\n", 2)
    assert header == f"# wsusbot-probe: {BUNDLE_NAME} v1"
    assert parse_header(script) == ("bundle", 1)
    assert PARAMS_LINE_RE.fullmatch(line2)
    assert extract_params(script) == {"probes": dict(SERVER_BUNDLE)}
    for name in SERVER_BUNDLE:
        assert body.count(f"function Invoke-WsusbotProbe_{name} {{") == 1
    assert "function Invoke-WsusbotProbe_client_facts" not in body
    # each helper library once, however many probes use it
    assert body.count("function ConvertTo-WsusbotJson {") == 1
    assert body.count("function Get-WsusbotIisSites {") == 1
    assert body.rstrip("\n").rsplit("\n", 1)[1] == (
        "Invoke-WsusbotBundleMain $params @('server_facts', 'wsusbot.server_facts/1', "
        "'iis_log', 'wsusbot.iis_log/1', 'wsus_computers', 'wsusbot.wsus_computers/1')"
    )
    assert f"'{BUNDLE}'" in body


def test_bundle_body_depends_on_which_probes_not_on_values() -> None:
    other = {name: {"timeout_ms": 1, "extra": "x'y"} for name in SERVER_BUNDLE}
    first = render_bundle(SERVER_BUNDLE).split("\n")
    second = render_bundle(other).split("\n")
    assert first[0] == second[0]
    assert first[2:] == second[2:]
    assert first[1] != second[1]
    smaller = render_bundle({"wsus_computers": {}})
    assert smaller.split("\n")[2:] != first[2:]
    assert "function Get-WsusbotIisSites" not in smaller


def test_bundle_order_is_fixed() -> None:
    reordered = dict(reversed(list(SERVER_BUNDLE.items())))
    assert render_bundle(reordered) == render_bundle(SERVER_BUNDLE)


def test_bundle_refuses_fixes_unknown_names_and_emptiness() -> None:
    with pytest.raises(UsageError, match="fix"):
        render_bundle({"fix_reset_au_state": {}})
    with pytest.raises(UsageError, match="unknown probe"):
        render_bundle({"server_facts": {}, "nope": {}})
    with pytest.raises(UsageError):
        render_bundle({})
    with pytest.raises(UsageError, match="mapping"):
        render_bundle({"server_facts": ["x"]})  # type: ignore[dict-item]
    with pytest.raises(UsageError):
        render_bundle({"server_facts": {"x": object()}})


def test_client_bundle_of_one() -> None:
    script = render_bundle({"client_facts": SAMPLE_PARAMS["client_facts"]})
    assert extract_params(script) == {"probes": {"client_facts": SAMPLE_PARAMS["client_facts"]}}
    assert "Get-WsusbotIisSites" not in script


def test_read_only_probes_carry_no_fix_helpers() -> None:
    for name in FACTS_SCHEMAS:
        assert "Start-WsusbotService" not in load(name).body
    assert "Start-WsusbotService" in load("fix_reset_au_state").body


def test_stager_shape_and_command_line() -> None:
    text = stager()
    assert text.startswith(STAGER_HEADER + "\n")
    assert "[Console]::In.ReadToEnd()" in text
    assert "[ScriptBlock]::Create(" in text
    line = encoded_command(text)
    assert line.startswith(
        "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
    )
    b64 = line.rsplit(" ", 1)[1]
    assert base64.b64decode(b64).decode("utf-16-le") == text
    assert command_line_length(text) == len(line)
    # cmd.exe caps a command line at 8,191 characters; the stager must stay far below
    assert command_line_length(text) < 8191 // 4


def test_probes_are_too_large_for_the_command_line() -> None:
    # why the stager exists: a bundle does not fit on a command line at all
    assert command_line_length(render_bundle(SERVER_BUNDLE)) > 8191


def test_parse_header_rejects_scripts_without_one() -> None:
    for script in [
        "",
        "$params = 1\n",
        "# wsusbot-probe: Bad-Name v1\n",
        "# wsusbot-probe: x vA\n",
    ]:
        with pytest.raises(UsageError, match="header"):
            parse_header(script)
    assert parse_header("# wsusbot-probe: future_probe v12\nbody") == ("future_probe", 12)


def test_extract_params_rejects_malformed_line_two() -> None:
    header = "# wsusbot-probe: client_facts v1\n"
    with pytest.raises(UsageError):
        extract_params(header)
    with pytest.raises(UsageError):
        extract_params(header + "$params = @{}\nbody")
    not_json = base64.b64encode(b"{nope").decode()
    line = f"$params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{not_json}'))"
    with pytest.raises(UsageError, match="JSON"):
        extract_params(header + line + "\n")
    array = base64.b64encode(b"[1]").decode()
    line = f"$params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{array}'))"
    with pytest.raises(UsageError, match="object"):
        extract_params(header + line + "\n")
