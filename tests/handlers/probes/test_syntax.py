"""Every probe script, raw and rendered, parses with tree-sitter-powershell."""

from __future__ import annotations

from importlib import resources

import pytest

from handlers.probes import PROBE_NAMES, render, render_bundle, stager
from tests.handlers.probes.powershell_syntax import syntax_problems
from tests.handlers.probes.samples import HOSTILE_STRINGS, SAMPLE_PARAMS, SERVER_BUNDLE

PS1_FILES = sorted(
    entry.name
    for entry in resources.files("handlers.probes").iterdir()
    if entry.name.endswith(".ps1")
)
LIBRARY_FILES = sorted(
    f"lib/{entry.name}"
    for entry in resources.files("handlers.probes").joinpath("lib").iterdir()
    if entry.name.endswith(".psm1")
)


def _assert_parses(script: str) -> None:
    problems = syntax_problems(script)
    assert not problems, "PowerShell syntax errors:\n" + "\n".join(problems)


def test_the_checker_reports_broken_powershell_with_its_line() -> None:
    broken = "function Get-Thing {\n    $x = 1\n    $y = ($x +\n    $z = 3\n}\n"
    problems = syntax_problems(broken)
    assert problems
    assert any("line 3" in problem and "$y = ($x +" in problem for problem in problems)
    with pytest.raises(AssertionError, match="line 3"):
        _assert_parses(broken)


@pytest.mark.parametrize(
    "broken",
    [
        "function Get-Thing {\n    'body'\n",
        '$b = "unterminated\n',
        "if ($a { 'open' }\n",
        "$x = @{ a = 1\n",
    ],
)
def test_the_checker_reports_unbalanced_scripts(broken: str) -> None:
    assert syntax_problems(broken)


def test_the_checker_accepts_valid_powershell() -> None:
    valid = "function Get-Thing {\n    param($a)\n    return ,$a\n}\nGet-Thing 1\n"
    assert syntax_problems(valid) == []


def test_every_probe_has_a_file() -> None:
    assert {f"{name}.ps1" for name in PROBE_NAMES} <= set(PS1_FILES)
    assert "stager.ps1" in PS1_FILES


def test_every_script_file_is_a_probe_and_libraries_are_modules() -> None:
    # docs/probes.md: every .ps1 starts "# wsusbot-probe: <name> v<N>"; shared code is .psm1
    for filename in PS1_FILES:
        text = resources.files("handlers.probes").joinpath(filename).read_text(encoding="utf-8")
        assert text.startswith(f"# wsusbot-probe: {filename[:-4]} v"), filename
    assert LIBRARY_FILES == ["lib/common.psm1", "lib/fix.psm1", "lib/iis.psm1"]


@pytest.mark.parametrize("filename", PS1_FILES + LIBRARY_FILES)
def test_package_file_parses(filename: str) -> None:
    text = resources.files("handlers.probes").joinpath(filename).read_text(encoding="utf-8")
    _assert_parses(text)


@pytest.mark.parametrize("name", PROBE_NAMES)
def test_rendered_probe_parses(name: str) -> None:
    _assert_parses(render(name, SAMPLE_PARAMS[name]))


@pytest.mark.parametrize("name", PROBE_NAMES)
def test_rendered_probe_with_hostile_params_parses(name: str) -> None:
    params = {**SAMPLE_PARAMS[name], "hostile": list(HOSTILE_STRINGS)}
    _assert_parses(render(name, params))


def test_bundle_parses() -> None:
    _assert_parses(render_bundle(SERVER_BUNDLE))


def test_stager_parses() -> None:
    _assert_parses(stager())
