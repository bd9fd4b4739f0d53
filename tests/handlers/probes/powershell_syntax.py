"""PowerShell syntax checking with tree-sitter-powershell, for the probe tests."""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter
import tree_sitter_powershell


def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def _bad_nodes(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """The innermost ERROR and every MISSING node: an ERROR node that wraps a whole
    function is reported through the error inside it, which points at the right line."""
    if node.is_missing:
        yield node
        return
    if not node.has_error:
        return
    inner = [bad for child in node.children for bad in _bad_nodes(child)]
    if inner:
        yield from inner
    elif node.is_error:
        yield node


def syntax_problems(script: str) -> list[str]:
    """One line per ERROR or MISSING node: its kind, position and the source line."""
    source = script.encode("utf-8")
    tree = _parser().parse(source)
    lines = script.splitlines()
    problems = []
    for node in _bad_nodes(tree.root_node):
        row, column = node.start_point
        kind = "MISSING " + node.type if node.is_missing else "ERROR"
        text = lines[row] if row < len(lines) else ""
        problems.append(f"{kind} at line {row + 1} column {column + 1}: {text.strip()[:200]}")
    return problems
