"""The walls of docs/architecture.md, read from the code's own imports (parsed with ast).

bot -> handlers -> checks, and bot -> checks; never the reverse. Only bot/slack imports the
Slack libraries; checks/ imports no I/O library; lab/ imports none of the three; only the
CLI (lab up, demo) imports lab."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "checks", "lab")
SLACK = ("slack_sdk", "slack_bolt")
#: libraries that do I/O: the pure domain may import none of them
IO_LIBRARIES = (
    "winrm",
    "httpx",
    "requests",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "aiohttp",
    "uvicorn",
    "spnego",
    "requests_ntlm",
    "apscheduler",
    "socket",
    "subprocess",
    *SLACK,
)


def modules_imported(path: Path, root: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join([*base, node.module] if node.module else base)
            elif node.module:
                yield node.module


def sources(package: str, root: Path) -> list[Path]:
    return sorted(p for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts)


def offenders(
    package: str, forbidden: tuple[str, ...], *, allow: str | None = None, root: Path = ROOT
) -> list[str]:
    found = []
    for path in sources(package, root):
        relative = path.relative_to(root).as_posix()
        if allow and relative.startswith(allow):
            continue
        for name in modules_imported(path, root):
            if name.split(".")[0] in forbidden or any(
                name == f or name.startswith(f + ".") for f in forbidden
            ):
                found.append(f"{relative}: {name}")
    return found


def test_only_bot_slack_imports_the_slack_libraries() -> None:
    for package in PACKAGES:
        allow = "bot/slack/" if package == "bot" else None
        assert offenders(package, SLACK, allow=allow) == [], package


def test_checks_is_the_pure_domain() -> None:
    assert offenders("checks", ("bot", "handlers", "lab", *IO_LIBRARIES)) == []


def test_handlers_never_import_the_bot() -> None:
    assert offenders("handlers", ("bot", "lab")) == []


def test_the_lab_imports_none_of_the_three() -> None:
    assert offenders("lab", ("bot", "handlers", "checks")) == []


def test_only_the_cli_starts_the_lab() -> None:
    assert offenders("bot", ("lab",), allow="bot/cli/") == []


def test_the_walls_test_sees_a_breach(tmp_path: Path) -> None:
    """A wall test that cannot fail is no wall: feed it forbidden imports, relative too."""
    (tmp_path / "checks" / "client").mkdir(parents=True)
    (tmp_path / "checks" / "client" / "leak.py").write_text(
        "from bot.config import Settings\nimport httpx\nfrom ..registry import Registry\n",
        encoding="utf-8",
    )
    assert offenders("checks", ("bot", *IO_LIBRARIES), root=tmp_path) == [
        "checks/client/leak.py: bot.config",
        "checks/client/leak.py: httpx",
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_name_shadows_nothing_installed(package: str) -> None:
    """The project card requires these generic names; nothing else on sys.path may carry
    them (a site-packages ``lab`` or ``checks`` would be shadowed, or shadow ours)."""
    elsewhere = [
        entry
        for entry in sys.path
        if entry and Path(entry).resolve() != ROOT and (Path(entry) / package).exists()
    ]
    elsewhere += [
        entry
        for entry in sys.path
        if entry and Path(entry).resolve() != ROOT and (Path(entry) / f"{package}.py").exists()
    ]
    assert elsewhere == [], f"another {package!r} on sys.path: {elsewhere}"
    assert package not in sys.stdlib_module_names
