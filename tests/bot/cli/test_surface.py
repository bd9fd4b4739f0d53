"""The whole command surface: every command and sub-command, with a bogus option and with
missing arguments, exits 2 with one line and never a traceback; and every package the
code imports is declared."""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import typer
from typer.main import get_command

from bot.cli import build_app
from tests.cli_support import run

ROOT = Path(__file__).resolve().parents[3]


def command_paths() -> Iterator[tuple[list[str], object]]:
    """Every command path of the real app (groups and leaves), from typer's own tree."""
    root = get_command(build_app())

    def walk(command: object, path: list[str]) -> Iterator[tuple[list[str], object]]:
        yield path, command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    yield from walk(root, [])


PATHS = [path for path, _ in command_paths() if path]


def test_the_surface_is_walked() -> None:
    names = {" ".join(p) for p in PATHS}
    assert {"check", "history", "checks list", "doctor", "db upgrade", "logscan"} <= names
    assert len(PATHS) >= 14


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) for p in PATHS])
def test_a_bogus_option_is_one_line_and_exit_2(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *path, "--bogus-option")
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "--bogus-option" in lines[0]


def required_arguments(command: object) -> list[object]:
    return [
        p
        for p in getattr(command, "params", [])
        if getattr(p, "required", False) and type(p).__name__.endswith("Argument")
    ]


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) for p in PATHS])
def test_missing_arguments_exit_2_without_traceback(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    command = dict((tuple(p), c) for p, c in command_paths())[tuple(path)]
    if not getattr(command, "commands", None) and not required_arguments(command):
        pytest.skip("takes no required argument")
    code, out, err = run(capsys, *path)
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    if not getattr(command, "commands", None):
        assert err.startswith("error: Missing argument"), err
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["frobnicate"], "No such command 'frobnicate'"),
        (["check", "--bogus"], "No such option: --bogus"),
        (["history"], "Missing argument"),
        (["history", "--limit", "zero"], "--limit"),
        (["--log-format", "xml", "checks", "list"], "use text or json"),
        (["--as", "two words", "checks", "list"], "--as takes a name"),
        (["check", "h1", "--now", "yesterday", "--facts", "x.json"], "not ISO-8601"),
    ],
)
def test_usage_mistakes(args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1


def test_no_arguments_shows_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 2
    assert "Usage" in out + err
    assert "Traceback" not in out + err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("wsusbot ")
    assert out.split()[1][0].isdigit()


def test_an_internal_error_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("checks.registry.default_registry", broken)
    code, out, err = run(capsys, "checks", "list")
    assert code == 1
    assert "internal error (RuntimeError): boom second line" in err
    assert "Traceback" not in out + err


def test_typer_usage_errors_are_the_classes_caught() -> None:
    """Whichever parser typer uses, its usage error is among the caught types."""
    from bot.cli.errors import usage_exception_types

    usage, aborts, exits = usage_exception_types()
    assert issubclass(typer.Exit, exits)
    assert issubclass(typer.Abort, aborts)
    app = typer.Typer()

    @app.command()
    def one(x: int) -> None: ...

    with pytest.raises(usage):
        app(["nope"], standalone_mode=False)


# ---------------------------------------------------------------- declared dependencies


def imported_top_levels(packages: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def declared(*, extras: bool = False) -> set[str]:
    """The runtime dependencies; with ``extras``, the optional ones too (the lab's
    Kerberos acceptor is an extra: the bot never imports it)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    if extras:
        for name, group in project["optional-dependencies"].items():
            if name != "dev":
                specs += group
    names = set()
    for spec in specs:
        head = spec.split(";")[0]
        for stop in "[<>=!~ ":
            head = head.split(stop)[0]
        names.add(normalise(head))
    return names


def test_every_imported_package_is_a_declared_runtime_dependency() -> None:
    first_party = {"bot", "handlers", "checks", "lab"}
    distributions = packages_distributions()
    missing = []
    for module, where in sorted(imported_top_levels(("bot", "handlers", "checks", "lab")).items()):
        if module in first_party or module in sys.stdlib_module_names:
            continue
        owners = {normalise(d) for d in distributions.get(module, [module])}
        if not owners & declared(extras=where.startswith("lab/")):
            missing.append(f"{module} ({where}) from {sorted(owners)}")
    assert not missing, "imported but not declared in [project] dependencies: " + ", ".join(missing)


@pytest.mark.parametrize(
    "args",
    [
        ["check", "wsus01"],
        ["check", "--all"],
        ["history", "wsus01"],
        ["audit"],
        ["digest", "--now"],
        ["serve"],
        ["doctor"],
        ["db", "upgrade"],
        ["db", "status"],
    ],
)
def test_commands_that_need_a_config_say_so_and_create_nothing(
    args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("WSUSBOT_CONFIG", "WSUSBOT_DATABASE_URL", "WSUSBOT_DATABASE_URL_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *args)
    assert code == 2
    assert "needs a configuration" in err
    assert "Traceback" not in out + err
    assert list(tmp_path.iterdir()) == []  # no ./var/wsusbot.sqlite


def test_the_worker_log_level_reaches_wsusbots_loggers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`worker --log-level DEBUG` sets the level wsusbot's own loggers log at (a
    basicConfig after the root callback's logging set-up changed nothing)."""
    import logging

    config = tmp_path / "c.toml"
    config.write_text("", encoding="utf-8")
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    try:
        code, _out, err = run(
            capsys, "-c", str(config), "worker", "--site", "paris", "--log-level", "DEBUG"
        )
        # no broker configured: refused, after logging was set
        assert code == 2
        assert "broker" in err
        assert logging.getLogger("bot.sites.worker").getEffectiveLevel() == logging.DEBUG
    finally:
        root.setLevel(before[0])
        root.handlers[:] = before[1]
