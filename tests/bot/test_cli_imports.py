"""Start-up: ``wsusbot --help`` and an offline ``check --facts`` import only what they use.

Each command imports its own heavy dependencies when it runs (the Slack app, the store,
the WinRM and HTTP clients); the registration in ``bot/cli/__init__.py`` pulls none of
them. Run in a fresh interpreter, so nothing this test process imported counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("slack_bolt", "slack_sdk", "sqlalchemy", "alembic", "winrm", "httpx")

PROGRAM = """
import json, sys
from bot.cli import main
out, argv = sys.argv[1], sys.argv[2:]
try:
    code = main(argv)
except SystemExit as exc:
    code = exc.code
with open(out, "w", encoding="utf-8") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""


def modules_after(tmp_path: Path, *argv: str) -> tuple[int, set[str]]:
    out = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", PROGRAM, str(out), *argv],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    return int(data["code"] or 0), set(data["modules"])


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--help"], id="--help"),
        pytest.param(["check", "--help"], id="check --help"),
        pytest.param(
            ["check", "xp01", "--facts", "examples/client-healthy.json"], id="check --facts"
        ),
        pytest.param(
            ["check", "xp01", "--facts", "examples/client-broken.json", "--json"],
            id="check --facts --json",
        ),
    ],
)
def test_light_commands_do_not_import_slack_store_or_transports(
    tmp_path: Path, argv: list[str]
) -> None:
    code, modules = modules_after(tmp_path, *argv)
    assert code in (0, 1)  # 1: a failing check
    assert heavy(modules) == []
    # nor the bot's own heavy layers
    assert not {"bot.slack", "bot.store", "bot.services", "handlers.runner"} & modules


def test_help_does_not_even_load_the_config_models(tmp_path: Path) -> None:
    code, modules = modules_after(tmp_path, "--help")
    assert code == 0
    assert "bot.config" not in modules
    assert "checks.facts" not in modules


def test_the_commands_are_all_still_registered(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from bot.cli import entry; entry()", "--help"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    for command in ("checks", "check", "history", "lab", "serve", "audit", "digest", "demo"):
        assert command in result.stdout


def test_an_offline_client_check_skips_click_and_the_log_parser(tmp_path: Path) -> None:
    # typer vendors its own click: the click package would be a second copy; the W3C
    # parser is for server checks that read an IIS log
    code, modules = modules_after(
        tmp_path, "check", "xp01", "--facts", "examples/client-healthy.json"
    )
    assert code == 0
    assert "click" not in modules
    assert not {"checks.w3c", "checks.logscan"} & modules


BUILT = """
import sys
from bot.cli import main
code = main(sys.argv[1:])
from checks import facts
built = [m.__name__ for m in (facts.ClientFacts, facts.ServerFacts, facts.WsusComputers)
         if m.__pydantic_complete__]
print(code, *built)
"""


def test_only_the_facts_models_a_command_reads_are_built() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BUILT, "check", "xp01", "--facts", "examples/client-healthy.json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split()[-2:] == ["0", "ClientFacts"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "--bogus", "x"], "No such option: --bogus"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(argv: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
