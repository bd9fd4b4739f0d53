"""``wsusbot worker --site NAME``: a site worker (docs/architecture.md, "Sites")."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.state import state_of


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site", help="The site whose hosts this worker reaches."),
        concurrency: int = typer.Option(
            16, "--concurrency", min=1, max=1024, help="Hosts worked on at once."
        ),
        state_dir: Path = typer.Option(
            Path("var/worker"),
            "--state-dir",
            envvar="WSUSBOT_WORKER_STATE_DIR",
            help="Where the fix ledger is kept (one per site; keep it on a durable volume).",
        ),
        log_level: str | None = typer.Option(
            None, "--log-level", help="DEBUG, INFO (default), WARNING, ERROR."
        ),
    ) -> None:
        """Consume the site's queue and run its hosts' checks and fixes until SIGTERM."""
        from bot.config import site_name
        from bot.observability.logs import configure_logging
        from bot.sites.worker import run_worker
        from checks.errors import ConfigError, UsageError

        # as `serve` does: the root callback has configured logging already, so a
        # basicConfig here would be a no-op and leave wsusbot's loggers at WARNING
        state = state_of(ctx)
        level = log_level or state.log_level or "INFO"
        configure_logging(level, state.log_format)
        try:
            site = site_name(site)
        except ValueError as exc:
            raise UsageError(f"--site {site[:60]!r}: {exc}") from None
        settings = state.settings
        if settings.broker.url is None:
            raise ConfigError(
                "a worker needs the broker: set [broker] url or WSUSBOT_BROKER_URL "
                "(docs/config.md, [broker])"
            )
        raise typer.Exit(run_worker(settings, site, state_dir / site, concurrency, level))
