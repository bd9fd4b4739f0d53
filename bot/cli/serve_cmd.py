"""``wsusbot serve`` (the bot) and ``wsusbot audit`` (the record of what it did)."""

from __future__ import annotations

import typer

from bot.cli.check_cmd import parse_time
from bot.cli.state import print_json, state_of
from checks.errors import UsageError


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        ctx: typer.Context,
        http: bool = typer.Option(
            False, "--http", help="HTTP mode (/slack/events) instead of Socket Mode."
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(
            3000, "--port", min=0, max=65535, help="HTTP mode: the events port."
        ),
        health_port: int = typer.Option(
            8080,
            "--health-port",
            min=0,
            max=65535,
            help="Socket Mode: the /healthz and /readyz port.",
        ),
        log_level: str | None = typer.Option(
            None, "--log-level", help="DEBUG, INFO (default), WARNING, ERROR."
        ),
    ) -> None:
        """Run the Slack bot until SIGINT/SIGTERM."""
        import signal

        from bot.observability.logs import configure_logging
        from bot.runtime import BotRuntime

        state = state_of(ctx)
        configure_logging(log_level or state.log_level or "INFO", state.log_format)
        runtime = BotRuntime(
            state.require_config("serve"),
            mode="http" if http else "socket",
            host=host,
            port=port,
            health_port=health_port,
        )
        runtime.start()
        where = (
            f"http://{host}:{runtime.http_port}/slack/events"
            if http
            else f"Socket Mode; health on http://{host}:{runtime.http_port}/healthz"
        )
        state.out.print(f"wsusbot serving ({where})", highlight=False)
        if runtime.metrics_url:
            state.out.print(f"metrics on {runtime.metrics_url}", highlight=False)

        def stop(_signum: int, _frame: object) -> None:
            runtime.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            runtime.wait()
        finally:
            runtime.stop()
            state.out.print("wsusbot stopped")

    @app.command("audit")
    def audit(
        ctx: typer.Context,
        host: str | None = typer.Option(None, "--host"),
        since: str | None = typer.Option(None, "--since", help="ISO-8601 time, e.g. 2026-11-25"),
        output: str = typer.Option("json", "--format", help="json or csv"),
        approval: str | None = typer.Option(
            None, "--approval", help="one approval or batch id (bat_…): its rows only"
        ),
    ) -> None:
        """The audit trail: every check, request, approval, run and result."""
        import csv
        import io

        from bot.inventory import validate_host_argument
        from bot.services import Services

        if output not in ("json", "csv"):
            raise UsageError("--format is json or csv")
        moment = parse_time(since, "--since") if since else None
        name = validate_host_argument(host) if host else None
        services = Services.open(state_of(ctx).require_config("audit"))
        try:
            records = services.audit.query(host=name, since=moment, approval=approval)
        finally:
            services.close()
        rows = [r.to_json() for r in records]
        if output == "json":
            print_json(rows)
            return
        buffer = io.StringIO()
        fields = [
            "time",
            "user",
            "action",
            "host",
            "check",
            "fix",
            "approval",
            "outcome",
            "before",
            "after",
            "detail",
        ]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in fields})
        typer.echo(buffer.getvalue().rstrip("\n"))
