"""``wsusbot db upgrade|status``: the database schema, migrated on purpose (before a
rollout, from a deploy job) rather than only as a side effect of ``serve``."""

from __future__ import annotations

import typer

from bot.cli.state import print_json, state_of


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)

    @group.command("upgrade")
    def upgrade(ctx: typer.Context) -> None:
        """Migrate the database to the schema this version needs (idempotent)."""
        from bot.store.db import Database, redact_url
        from bot.store.migrate_status import migration_status

        settings = state_of(ctx).require_config("db upgrade")
        db = Database(settings.store.url)
        try:
            before = migration_status(db)
            db.migrate()
            after = migration_status(db)
        finally:
            db.dispose()
        where = redact_url(db.url)
        if before.current == after.current:
            typer.echo(f"{where}: already at {after.shown_current}")
        else:
            typer.echo(f"{where}: upgraded from {before.shown_current} to {after.shown_current}")

    @group.command("status")
    def status(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """The database's migration level against this version's (exit 1 when behind)."""
        from bot.store.db import Database, redact_url
        from bot.store.migrate_status import migration_status

        settings = state_of(ctx).require_config("db status")
        db = Database(settings.store.url)
        try:
            found = migration_status(db)
        finally:
            db.dispose()
        if as_json:
            print_json(
                {
                    "url": redact_url(db.url),
                    "current": sorted(found.current),
                    "heads": sorted(found.heads),
                    "up_to_date": found.up_to_date,
                }
            )
        else:
            state = "up to date" if found.up_to_date else "behind: run `wsusbot db upgrade`"
            typer.echo(
                f"{redact_url(db.url)}: at {found.shown_current}, code at "
                f"{', '.join(sorted(found.heads))} ({state})"
            )
        if not found.up_to_date:
            raise typer.Exit(1)

    app.add_typer(group, name="db")
