"""``wsusbot lab``: the simulated estate on loopback (lab/), for trying wsusbot without
Windows or Slack. This command and the tests are the only places that hold the lab and
the bot side by side."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.state import print_json, state_of
from checks.errors import UsageError

LAB_ROLES = {"viewers": [], "operators": ["U0OPER"], "approvers": ["U0APPR", "S0WSUSADM"]}


def _write_secret(path: Path, value: str) -> Path:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(value)
    return path


def slack_sections(slack: Any, workdir: Path) -> dict[str, Any]:
    """The [slack] and [roles] config a local Slack needs (tokens as 0600 files)."""
    return {
        "slack": {
            "api_url": slack.api_url,
            "bot_token_file": str(_write_secret(workdir / "slack_bot_token", slack.bot_token)),
            "app_token_file": str(_write_secret(workdir / "slack_app_token", slack.app_token)),
            "signing_secret_file": str(
                _write_secret(workdir / "slack_signing_secret", slack.signing_secret)
            ),
            "channels": ["C0WSUS", "C0DIGEST"],
            "audit_channel": "C0AUDIT",
        },
        "roles": LAB_ROLES,
        "digests": [
            {"id": "morning", "channel": "C0DIGEST", "cron": "0 8 * * 1-5", "timezone": "UTC"}
        ],
    }


def start_estate(scenario: str, latency_ms: int, workdir: Path | None) -> Any:
    from lab.estate import Estate
    from lab.scenarios import UnknownScenarioError

    try:
        return Estate.start(scenario, latency_ms=latency_ms, workdir=workdir)
    except UnknownScenarioError as exc:
        raise UsageError(str(exc)) from None


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The simulated WSUS estate (loopback only).", no_args_is_help=True)

    @group.command("scenarios")
    def scenarios(as_json: bool = typer.Option(False, "--json")) -> None:
        """List the lab scenarios."""
        from lab.scenarios import list_scenarios

        infos = list_scenarios()
        if as_json:
            print_json(
                [{"name": i.name, "description": i.description, "hosts": i.hosts} for i in infos]
            )
            return
        table = Table(title="lab scenarios")
        table.add_column("name", no_wrap=True)
        table.add_column("hosts")
        table.add_column("description")
        for info in infos:
            table.add_row(info.name, ", ".join(info.hosts), info.description)
        Console().print(table)

    @group.command("up")
    def up(
        ctx: typer.Context,
        scenario: str = typer.Option("healthy", "--scenario", "-s", help="Scenario name."),
        write_config: Path | None = typer.Option(
            None, "--write-config", help="Write a wsusbot config pointing at the lab here."
        ),
        latency_ms: int = typer.Option(0, "--latency-ms", min=0, max=60_000),
        slack: bool = typer.Option(True, "--slack/--no-slack", help="Also run a local Slack."),
        workdir: Path | None = typer.Option(None, "--workdir", help="Keep lab state here."),
    ) -> None:
        """Start the estate in the foreground until Ctrl-C / SIGTERM."""
        out = state_of(ctx).out
        estate = start_estate(scenario, latency_ms, workdir)
        local_slack = None
        try:
            extra: dict[str, Any] = {}
            if slack:
                from lab.slack import LocalSlack

                local_slack = LocalSlack().start()
                extra = slack_sections(local_slack, estate.workdir)
            if write_config is not None:
                estate.write_config(write_config, extra)
            table = Table(title=f"lab: {scenario}")
            for column in ("name", "role", "WinRM URL", "HTTP URL", "user"):
                table.add_column(column, no_wrap=True)
            for host in estate.hosts:
                table.add_row(
                    host.name, host.role, host.winrm_url, host.http_url or "—", host.username
                )
            out.print(table)
            if local_slack is not None:
                out.print(
                    f"local Slack: {local_slack.api_url} (control API {local_slack.base_url}/_lab/)"
                )
            if write_config is not None:
                out.print(f"config written to {write_config}")
            out.print("lab ready", highlight=False)
            _wait_for_signal()
        finally:
            if local_slack is not None:
                local_slack.stop()
            estate.stop()
            out.print("lab stopped")

    app.add_typer(group, name="lab")


def _wait_for_signal() -> None:
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
