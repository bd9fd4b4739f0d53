from __future__ import annotations

import ast
from pathlib import Path

import lab.slack

FORBIDDEN = ("bot", "handlers", "checks")


def test_lab_slack_imports_nothing_from_the_bot() -> None:
    package = Path(lab.slack.__file__).parent
    offending = []
    for source in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offending += [f"{source.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offending == []
