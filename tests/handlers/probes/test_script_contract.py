"""Static contract of the scripts: PowerShell 2.0 commands only, no undefined helpers,
read-only facts probes, and every facts field named by the probe that fills it."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator

import pytest
import tree_sitter
import tree_sitter_powershell

from checks import facts
from handlers.probes import FACTS_SCHEMAS, PROBE_NAMES, load, render, render_bundle, stager
from tests.handlers.probes.samples import SAMPLE_PARAMS, SERVER_BUNDLE

#: cmdlets the scripts may call: all exist in Windows PowerShell 2.0
POWERSHELL_2_CMDLETS = frozenset({"Get-WmiObject", "New-Object", "New-TimeSpan"})

#: what changes a host; none of it may appear in a read-only probe
WRITE_OPERATIONS = (
    ".SetValue(",
    ".DeleteValue(",
    ".DeleteSubKey",
    "CreateSubKey(",
    ".CommitChanges(",
    ".SetAttributeValue(",
    "ChangeStartMode(",
    "Set-ItemProperty",
    "New-ItemProperty",
    "Remove-ItemProperty",
    "Set-Content",
    "Add-Content",
    "Out-File",
    "New-Item",
    "Remove-Item",
    "Start-Service",
    "Stop-Service",
    "Restart-Service",
    "Set-Service",
    ".Invoke('Start')",
    "FileAccess]::Write",
    "FileMode]::Create",
    "FileMode]::Append",
    "WriteAllText",
    "WriteAllBytes",
    "Start-WsusbotService",
    "Stop-WsusbotService",
)


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def commands_and_functions(script: str) -> tuple[set[str], set[str]]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(script.encode("utf-8"))
    called: set[str] = set()
    defined: set[str] = set()
    for node in _walk(tree.root_node):
        text = (node.text or b"").decode("utf-8")
        if node.type == "command_name":
            called.add(text)
        elif node.type == "function_name":
            defined.add(text)
    return called, defined


def undefined_commands(script: str) -> set[str]:
    called, defined = commands_and_functions(script)
    defined_lower = {name.lower() for name in defined}
    allowed = {name.lower() for name in POWERSHELL_2_CMDLETS}
    return {name for name in called if name.lower() not in defined_lower | allowed}


#: PowerShell's automatic variables the scripts read
AUTOMATIC_VARIABLES = frozenset({"$_", "$null", "$true", "$false", "$matches"})


def _plain_name(node: tree_sitter.Node) -> str:
    """``$Name`` and ``${Name}`` alike, lower-cased (PowerShell names ignore case)."""
    text = (node.text or b"").decode("utf-8").lower()
    if text.startswith("${") and text.endswith("}"):
        return "$" + text[2:-1]
    return text


def unassigned_variables(script: str) -> set[str]:
    """Variables read somewhere but never assigned, declared as a parameter or a foreach
    variable anywhere in the script: almost always a misspelt name."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(script.encode("utf-8"))
    declared: set[str] = set()
    used: set[str] = set()
    for node in _walk(tree.root_node):
        if node.type != "variable":
            continue
        name = _plain_name(node)
        if name.startswith("$env:"):
            continue
        used.add(name)
        parent = node.parent
        if parent is None:
            continue
        if parent.type in ("script_parameter", "foreach_statement"):
            declared.add(name)
            continue
        # a plain '$name = ...' (possibly wrapped in expression nodes) declares $name
        ancestor: tree_sitter.Node | None = parent
        while ancestor is not None and ancestor.type != "left_assignment_expression":
            if (ancestor.text or b"").decode("utf-8").lower() != name:
                ancestor = None
                break
            ancestor = ancestor.parent
        if ancestor is not None and _plain_name(ancestor) == name:
            declared.add(name)
    return used - declared - AUTOMATIC_VARIABLES


def _children(node: tree_sitter.Node, kind: str) -> list[tree_sitter.Node]:
    return [child for child in node.children if child.type == kind]


def _declared_arity(function: tree_sitter.Node) -> tuple[int, int]:
    """(parameters, parameters without a default) of a function statement."""
    count = required = 0
    for block in _children(function, "script_block"):
        for param_block in _children(block, "param_block"):
            for parameter_list in _children(param_block, "parameter_list"):
                for parameter in _children(parameter_list, "script_parameter"):
                    count += 1
                    if not _children(parameter, "script_parameter_default"):
                        required += 1
    return count, required


def _arguments(command: tree_sitter.Node) -> tuple[int, int]:
    """(positional, named) arguments of a command."""
    positional = named = 0
    after_name = False
    for elements in _children(command, "command_elements"):
        for element in elements.children:
            if element.type == "command_argument_sep":
                continue
            if element.type == "command_parameter":
                named += 1
                after_name = True
                continue
            if after_name:
                after_name = False
                continue
            positional += 1
    return positional, named


def arity_mismatches(script: str) -> list[str]:
    """Calls of the script's own functions with more positional arguments than the
    function declares (PowerShell fails: 'A positional parameter cannot be found'), or
    fewer than its parameters without defaults (the rest would silently be $null)."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(script.encode("utf-8"))
    arities: dict[str, tuple[int, int]] = {}
    for node in _walk(tree.root_node):
        if node.type == "function_statement":
            name = _plain_name(_children(node, "function_name")[0])
            arities[name] = _declared_arity(node)
    mismatches = []
    for node in _walk(tree.root_node):
        names = _children(node, "command_name") if node.type == "command" else []
        if not names or _plain_name(names[0]) not in arities:
            continue
        declared, required = arities[_plain_name(names[0])]
        positional, named = _arguments(node)
        if positional > declared or positional + named < required:
            text = (node.text or b"").decode("utf-8")[:120]
            mismatches.append(
                f"line {node.start_point[0] + 1}: {text} ({positional} + {named} named "
                f"for {declared})"
            )
    return mismatches


def _all_scripts() -> list[tuple[str, str]]:
    scripts = [(name, render(name, SAMPLE_PARAMS[name])) for name in PROBE_NAMES]
    scripts.append(("bundle", render_bundle(SERVER_BUNDLE)))
    scripts.append(("stager", stager()))
    return scripts


@pytest.mark.parametrize(("name", "script"), _all_scripts(), ids=lambda value: value[:20])
def test_every_command_is_defined_or_a_powershell_2_cmdlet(name: str, script: str) -> None:
    assert undefined_commands(script) == set(), name


@pytest.mark.parametrize(("name", "script"), _all_scripts(), ids=lambda value: value[:20])
def test_every_variable_read_is_assigned_somewhere(name: str, script: str) -> None:
    assert unassigned_variables(script) == set(), name


@pytest.mark.parametrize(("name", "script"), _all_scripts(), ids=lambda value: value[:20])
def test_own_functions_get_the_arguments_they_declare(name: str, script: str) -> None:
    assert arity_mismatches(script) == [], name


def test_the_arity_check_catches_extra_and_missing_arguments() -> None:
    script = (
        "function Get-Pair {\n    param($First, $Second, $Third = 3)\n    $First\n}\n"
        "Get-Pair 1 2\nGet-Pair 1 2 3\nGet-Pair 1 -Second 2\n"
    )
    assert arity_mismatches(script) == []
    assert len(arity_mismatches(script + "Get-Pair 1 2 3 4\n")) == 1
    assert len(arity_mismatches(script + "Get-Pair 1\n")) == 1
    # a method call in argument mode is one argument only inside parentheses
    assert arity_mismatches(script + "Get-Pair ($a.B()) 2\n") == []


def test_the_variable_check_catches_a_misspelt_name() -> None:
    script = "function Get-Thing {\n    param($Errors)\n    $count = 1\n    $Erors.Add($count)\n}\n"
    assert unassigned_variables(script) == {"$erors"}
    assert unassigned_variables(script.replace("$Erors", "$Errors")) == set()


@pytest.mark.parametrize(
    ("snippet", "culprit"),
    [
        ("$doc | ConvertTo-Json -Depth 5\n", "ConvertTo-Json"),
        ("$p = $params | ConvertFrom-Json\n", "ConvertFrom-Json"),
        ("Invoke-WebRequest -Uri $u\n", "Invoke-WebRequest"),
        ("Get-CimInstance Win32_Service\n", "Get-CimInstance"),
        ("Write-Host 'debug'\n", "Write-Host"),
        ("Get-WsusbotRegValu 'k' 'v'\n", "Get-WsusbotRegValu"),
    ],
)
def test_the_command_check_catches_newer_or_misspelt_commands(snippet: str, culprit: str) -> None:
    script = render("client_facts", {}) + snippet
    assert culprit in undefined_commands(script)


def test_stdout_is_written_in_one_place() -> None:
    for name in PROBE_NAMES:
        body = load(name).body
        assert body.count("[Console]::Out.Write(") == 1, name
        assert "Write-Output" not in body
        assert "Write-Host" not in body


@pytest.mark.parametrize("name", list(FACTS_SCHEMAS))
def test_facts_probes_never_write(name: str) -> None:
    body = load(name).body
    found = [operation for operation in WRITE_OPERATIONS if operation in body]
    assert found == [], f"{name} carries write operations {found}"


def test_the_bundle_never_writes() -> None:
    script = render_bundle({name: SAMPLE_PARAMS[name] for name in FACTS_SCHEMAS})
    assert [operation for operation in WRITE_OPERATIONS if operation in script] == []


def test_the_write_check_sees_fixes() -> None:
    assert any(operation in load("fix_set_wsus_policy").body for operation in WRITE_OPERATIONS)
    assert any(
        operation in load("fix_enable_anonymous_auth").body for operation in WRITE_OPERATIONS
    )


def _field_names(model: type[facts.Fact], skip: frozenset[str]) -> Iterator[str]:
    for field_name, field in model.model_fields.items():
        wire_name = field.alias or field_name
        if wire_name in skip:
            continue
        yield wire_name
        for nested in _nested_models(field.annotation):
            yield from _field_names(nested, skip)


def _nested_models(annotation: object) -> Iterator[type[facts.Fact]]:
    if isinstance(annotation, type) and issubclass(annotation, facts.Fact):
        yield annotation
        return
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for argument in typing.get_args(annotation):
            yield from _nested_models(argument)


# filled by the bot or the composer's runner, not by the probe body itself
_NOT_PROBE_FIELDS = frozenset({"schema", "errors", "bot_http", "http", "iis_log", "wsus_computers"})


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("client_facts", facts.ClientFacts),
        ("server_facts", facts.ServerFacts),
        ("iis_log", facts.IisLog),
        ("wsus_computers", facts.WsusComputers),
    ],
)
def test_every_schema_field_is_named_by_its_probe(name: str, model: type[facts.Fact]) -> None:
    body = load(name).body
    skip = _NOT_PROBE_FIELDS - ({"http"} if name == "client_facts" else set())
    missing = [
        field
        for field in _field_names(model, skip)
        if not re.search(rf"'{re.escape(field)}'", body)
    ]
    assert missing == []


def test_client_facts_fills_http() -> None:
    assert "$Doc['http'] =" in load("client_facts").body
