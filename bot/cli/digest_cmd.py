"""``wsusbot digest --now``, ``wsusbot logscan FILE...`` and ``wsusbot doctor``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.cli.state import CliState, print_json, state_of
from checks.errors import UsageError, WsusbotError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.services import Services
    from bot.usecases.context import BotContext
    from bot.usecases.digest import DigestOutcome

#: a whole digest (every server checked, logs folded) must finish within this
DIGEST_TIMEOUT_S = 1800.0


class LogFileError(UsageError):
    """A log file given to ``logscan`` cannot be read (exit 2)."""


# ------------------------------------------------------------------------- digest


def _context(services: Services, *, dry_run: bool) -> BotContext:
    """The bot's own context (the same Slack client, its 429 / connection retries); a dry
    run gets a client without a token, so nothing it does can reach a workspace."""
    from bot.secrets import read_secret
    from bot.slack.app import build_context, build_web_client, tokenless_web_client

    settings = services.settings
    if dry_run:
        return build_context(services, tokenless_web_client(settings))
    token = read_secret(
        "SLACK_BOT_TOKEN", "Slack bot token", file_from_config=settings.slack.bot_token_file
    )
    assert token is not None
    return build_context(services, build_web_client(settings, token))


def run_digest_now(state: CliState, digest_id: str | None, *, dry_run: bool) -> DigestOutcome:
    from bot.services import Services, cli_user
    from bot.usecases.digest import find_digest, post_manual

    settings = state.settings
    services = Services.open(settings)
    try:
        ctx = _context(services, dry_run=dry_run)
        digest = find_digest(ctx, digest_id)
        ctx.start()
        try:
            return ctx.worker.call(
                lambda: post_manual(ctx, digest, user=cli_user(), dry_run=dry_run),
                timeout=DIGEST_TIMEOUT_S,
            )
        finally:
            ctx.stop()
    finally:
        services.close()


def digest_exit_code(outcome: DigestOutcome) -> int:
    """3 when a server in scope (or its inventory, or its IIS log) was not read, as
    ``check`` exits 3 for a host it could not read: an incomplete digest never exits 0."""
    return 3 if outcome.digest.not_read else 0


def print_outcome(out: Console, outcome: DigestOutcome, *, posted_to: str | None) -> None:
    from bot.digest.causes import ORDER, TITLES

    digest = outcome.digest
    stalled = digest.stalled
    out.print(
        f"digest {digest.digest_id}: {len(stalled)} stalled · {outcome.trend.line()} · "
        f"{digest.computers_seen} computers on {', '.join(digest.servers_read) or 'no server'}",
        highlight=False,
        markup=False,
    )
    for unread in digest.not_read:
        out.print(f"not read: {unread.server} ({unread.reason})", highlight=False, markup=False)
    for cause in ORDER:
        sightings = digest.hosts(cause)
        if sightings:
            names = ", ".join(s.host for s in sightings[:10])
            more = f" … and {len(sightings) - 10} more" if len(sightings) > 10 else ""
            out.print(
                f"  {TITLES[cause]}: {len(sightings)} — {names}{more}",
                highlight=False,
                markup=False,
            )
    if outcome.csv is not None:
        rows = outcome.csv.count("\n") - 1
        out.print(f"CSV: {rows} rows (attached when posted)", highlight=False, markup=False)
    if posted_to is not None:
        where = f"posted to {posted_to} (ts {outcome.ts})" if outcome.ts else "healthy: not posted"
        out.print(where, highlight=False, markup=False)


# ------------------------------------------------------------------------- logscan


def scan_logs(paths: list[Path], ignored_client_ips: list[str] | None = None) -> object:
    from checks.logscan import scan_files

    for path in paths:
        if path.is_dir():
            raise LogFileError(f"{path} is a directory; give the log files themselves")
    try:
        result = scan_files(paths, ignored_client_ips=ignored_client_ips or ())
    except OSError as exc:
        name = exc.filename or (paths[0] if paths else "")
        raise LogFileError(f"cannot read log file {name}: {exc.strerror or exc}") from None
    if result.files and len(result.files_without_fields) == len(result.files):
        # nothing could be read at all: not a clean log, an unusable input (exit 2)
        raise LogFileError(
            "no #Fields header in "
            + ", ".join(result.files_without_fields)
            + ": not an IIS W3C extended log (or logging is not in W3C format)"
        )
    return result


def scan_exit_code(result: object) -> int:
    """1 when failing self-update requests were found (as ``check`` exits 1 on a failing
    check), 0 when clean."""
    from checks.logscan import ScanResult

    assert isinstance(result, ScanResult)
    return 1 if result.failures else 0


def print_scan(out: Console, result: object) -> None:
    from checks.logscan import ScanResult

    assert isinstance(result, ScanResult)
    failures = result.failures
    table = Table(title=f"failing self-update requests ({len(failures)} groups)")
    for column in ("client IP", "status", "count", "first seen (UTC)", "last seen (UTC)"):
        table.add_column(column, no_wrap=True)
    table.add_column("path", overflow="fold")
    table.add_column("meaning", overflow="fold", ratio=1)
    for failure in failures:
        others = [f"{failure.status}.{sub} x{n}" for sub, n in failure.substatuses[1:]]
        table.add_row(
            Text(failure.client_ip),
            failure.code + (f" ({', '.join(others)})" if others else ""),
            str(failure.count),
            failure.first_seen.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            failure.last_seen.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            Text(failure.path),
            Text(failure.to_json()["meaning"]),
        )
    out.print(table)
    out.print(
        f"{len(result.files)} files · {result.lines} lines · {result.requests} requests · "
        f"{result.selfupdate_requests} self-update requests · {result.handshakes} "
        f"authentication handshakes ignored · {result.ignored_requests} bot requests "
        f"ignored · {result.skipped_total} lines skipped",
        highlight=False,
        markup=False,
    )
    if result.skipped:
        reasons = ", ".join(f"{reason} {count}" for reason, count in result.skipped.most_common())
        out.print(f"skipped lines: {reasons}", highlight=False, markup=False)
    for name in result.files_without_fields:
        out.print(
            f"warning: {name} has no #Fields header; none of its lines could be read",
            highlight=False,
            markup=False,
        )
    if result.code_counts:
        answers = ", ".join(f"{code} x{n}" for code, n in sorted(result.code_counts.items()))
        out.print(f"answers on self-update paths: {answers}", highlight=False, markup=False)


# ------------------------------------------------------------------------- doctor


@dataclass(frozen=True, slots=True)
class DoctorLine:
    item: str
    ok: bool
    detail: str


def _store_lines(settings: Settings) -> list[DoctorLine]:
    from importlib import resources

    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from bot.store.db import Database, redact_url

    try:
        db = Database(settings.store.url)
    except WsusbotError as exc:
        return [DoctorLine("store", False, str(exc))]
    try:
        if not db.ping():
            return [DoctorLine("store", False, f"cannot connect to {redact_url(db.url)}")]
        lines = [DoctorLine("store", True, f"{db.dialect} at {redact_url(db.url)}")]
        config = Config()
        config.set_main_option("script_location", str(resources.files("bot.store") / "migrations"))
        heads = set(ScriptDirectory.from_config(config).get_heads())
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        if current == heads:
            lines.append(DoctorLine("migrations", True, f"at {', '.join(sorted(heads))}"))
        else:
            lines.append(
                DoctorLine(
                    "migrations",
                    False,
                    f"database at {', '.join(sorted(current)) or 'nothing'}, code at "
                    f"{', '.join(sorted(heads))}: start the bot once (it migrates) or "
                    "restore the matching version",
                )
            )
        return lines
    finally:
        db.dispose()


def _slack_lines(settings: Settings) -> list[DoctorLine]:
    from bot.slack.doctor import slack_lines

    return [DoctorLine(item, ok, detail) for item, ok, detail in slack_lines(settings)]


def _digest_lines(settings: Settings, now: datetime) -> list[DoctorLine]:
    from bot.scheduling import cron_trigger

    lines = []
    for digest in settings.digests:
        item = f"digest {digest.id} schedule"
        try:
            trigger = cron_trigger(digest.cron, digest.timezone)
        except WsusbotError as exc:
            lines.append(DoctorLine(item, False, str(exc)))
            continue
        upcoming = trigger.get_next_fire_time(None, now)
        when = upcoming.isoformat() if upcoming else "never"
        lines.append(DoctorLine(item, True, f"'{digest.cron}' {digest.timezone}: next {when}"))
    return lines


def _site_lines(settings: Settings) -> list[DoctorLine]:
    if settings.broker.url is None:
        return []
    from bot.sites.liveness import doctor_lines as site_lines

    return [DoctorLine(item, ok, detail) for item, ok, detail in site_lines(settings)]


def doctor_lines(settings: Settings, now: datetime) -> list[DoctorLine]:
    return [
        *_store_lines(settings),
        *_slack_lines(settings),
        *_digest_lines(settings, now),
        *_site_lines(settings),
    ]


# ------------------------------------------------------------------------- commands


def register(app: typer.Typer) -> None:
    @app.command("digest")
    def digest(
        ctx: typer.Context,
        now: bool = typer.Option(False, "--now", help="Build and post the digest now."),
        digest_id: str | None = typer.Option(None, "--id", help="Which [[digests]] id."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Print the digest and CSV summary instead of posting."
        ),
    ) -> None:
        """Post a stalled self-update digest now (scheduled ones run in `wsusbot serve`).

        Exit 0 when every server in scope was read, 3 when one (its inventory or its IIS
        log included) was not: the digest then names it under "not read"."""
        if not now:
            raise UsageError("give --now (scheduled digests are posted by the running bot)")
        state = state_of(ctx)
        outcome = run_digest_now(state, digest_id, dry_run=dry_run)
        channel = None if dry_run else _channel_of(state, outcome.digest.digest_id)
        print_outcome(state.out, outcome, posted_to=channel)
        raise typer.Exit(digest_exit_code(outcome))

    @app.command("logscan")
    def logscan(
        ctx: typer.Context,
        files: list[Path] = typer.Argument(
            ..., help="W3C log files (plain or .gz), in any order: read in time order."
        ),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
        ignore_client: list[str] = typer.Option(
            [],
            "--ignore-client",
            help="Leave out requests from this address (repeatable; the bot's own "
            "probes). With --config, [runner] bot_source_addresses are added.",
        ),
    ) -> int:
        """Failing self-update requests in IIS W3C logs copied off a server (offline).

        Exit 1 when failing self-update requests are found, 0 when clean, 2 on usage or
        file errors (missing file, no #Fields header in any file)."""
        from checks.logscan import ScanResult

        state = state_of(ctx)
        ignored = list(ignore_client)
        if state.config_path is not None:
            ignored += list(state.settings.runner.bot_source_addresses)
        result = scan_logs(files, ignored)
        assert isinstance(result, ScanResult)
        if as_json:
            print_json(result.to_json())
        else:
            print_scan(state.out, result)
        raise typer.Exit(scan_exit_code(result))

    @app.command("doctor")
    def doctor(ctx: typer.Context) -> None:
        """Check the configuration, store, Slack token, channel membership and schedules."""
        state = state_of(ctx)
        lines = doctor_lines(state.settings, datetime.now(UTC))
        table = Table(title="wsusbot doctor")
        table.add_column("", no_wrap=True)
        table.add_column("item", no_wrap=True)
        table.add_column("detail", overflow="fold")
        for line in lines:
            status = Text("OK", style="green") if line.ok else Text("FAIL", style="bold red")
            table.add_row(status, Text(line.item), Text(line.detail))
        state.out.print(table)
        if not all(line.ok for line in lines):
            raise typer.Exit(1)


def _channel_of(state: CliState, digest_id: str) -> str:
    for digest in state.settings.digests:
        if digest.id == digest_id:
            return digest.channel
    return "?"
