"""The lab is an independent simulator: it never imports the bot or the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import lab

FORBIDDEN = ("bot", "handlers", "checks")


def test_lab_imports_nothing_from_bot_handlers_or_checks() -> None:
    root = Path(lab.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(root)}: {name}"
                for name in names
                if name.split(".")[0] in FORBIDDEN
            ]
    assert offenders == []
