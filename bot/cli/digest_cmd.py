"""``wsusbot digest --now``, ``wsusbot logscan FILE...`` and ``wsusbot doctor``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.cli.state import CliState, print_json, state_of
from checks.errors import UsageError

if TYPE_CHECKING:
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
    from bot.observability.logs import run_scope
    from bot.services import Services
    from bot.store.audit import AuditAction, AuditRecord
    from bot.usecases.digest import find_digest, post_manual

    user = state.identity
    settings = state.require_config("digest")
    services = Services.open(settings)
    try:
        ctx = _context(services, dry_run=dry_run)
        digest = find_digest(ctx, digest_id)
        from bot.digest.gather import digest_scope

        # the digest reads its servers over WinRM: credentials first, one line, exit 2
        services.require_credentials(digest_scope(services, digest).servers)
        ctx.start()
        try:
            with run_scope(), state.err.status(f"building digest {digest.id} …"):
                outcome = ctx.worker.call(
                    lambda: post_manual(ctx, digest, user=user, dry_run=dry_run),
                    timeout=DIGEST_TIMEOUT_S,
                )
        finally:
            ctx.stop()
        if dry_run:
            # a posted digest is audited by the use case; a dry run is audited here: who
            # read the estate, and what was not read
            services.audit.write(
                AuditRecord(
                    time=services.clock(),
                    user=user,
                    action=AuditAction.DIGEST_PREVIEWED,
                    outcome="dry_run",
                    detail=f"digest {digest.id}: {len(outcome.digest.stalled)} stalled"
                    + "".join(
                        f"; not read {n.server} ({n.reason})" for n in outcome.digest.not_read
                    ),
                )
            )
        return outcome
    finally:
        services.close()


def outcome_json(outcome: DigestOutcome, *, posted_to: str | None) -> dict[str, object]:
    from bot.digest.causes import ORDER

    digest = outcome.digest
    return {
        "digest": digest.digest_id,
        "slot": outcome.slot,
        "stalled": len(digest.stalled),
        "trend": outcome.trend.line(),
        "computers_seen": digest.computers_seen,
        "servers_read": list(digest.servers_read),
        "not_read": [{"server": n.server, "reason": n.reason} for n in digest.not_read],
        "causes": {
            str(cause.value): [s.host for s in digest.hosts(cause)]
            for cause in ORDER
            if digest.hosts(cause)
        },
        "csv_rows": outcome.csv.count("\n") - 1 if outcome.csv is not None else None,
        "posted_to": posted_to,
        "ts": outcome.ts,
    }


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


def scan_logs(
    paths: list[Path],
    ignored_client_ips: list[str] | None = None,
    progress: Console | None = None,
) -> object:
    from checks.logscan import ScanResult, first_timestamp, scan_files

    for path in paths:
        if path.is_dir():
            raise LogFileError(f"{path} is a directory; give the log files themselves")
    try:
        if progress is None:
            result = scan_files(paths, ignored_client_ips=ignored_client_ips or ())
        else:
            # one file at a time (in time order, resuming one result), so the bar moves
            # by bytes of the files done: months of logs take minutes
            ordered = sorted(
                paths,
                key=lambda p: (
                    (moment := first_timestamp(p)) is None,
                    moment or datetime.min.replace(tzinfo=UTC),
                    str(p),
                ),
            )
            result = ScanResult(ignored_client_ips=ignored_client_ips or ())
            _scan_with_progress(ordered, result, progress)
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


def _scan_with_progress(paths: list[Path], result: object, console: Console) -> None:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from checks.logscan import scan_files

    sizes = {p: p.stat().st_size for p in paths}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("scanning", total=sum(sizes.values()) or 1)
        for path in paths:
            progress.update(task, description=f"scanning {path.name}")
            scan_files([path], resume=result)  # type: ignore[arg-type]
            progress.advance(task, sizes[path])


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
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Post a stalled self-update digest now (scheduled ones run in `wsusbot serve`).

        Exit 0 when every server in scope was read, 3 when one (its inventory or its IIS
        log included) was not: the digest then names it under "not read"."""
        if not now:
            raise UsageError("give --now (scheduled digests are posted by the running bot)")
        state = state_of(ctx)
        outcome = run_digest_now(state, digest_id, dry_run=dry_run)
        channel = None if dry_run else _channel_of(state, outcome.digest.digest_id)
        if as_json:
            print_json(outcome_json(outcome, posted_to=channel))
        else:
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
        bar = state.err if state.err.is_terminal and not as_json else None
        result = scan_logs(files, ignored, progress=bar)
        assert isinstance(result, ScanResult)
        if as_json:
            print_json(result.to_json())
        else:
            print_scan(state.out, result)
        raise typer.Exit(scan_exit_code(result))

    @app.command("doctor")
    def doctor(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
        skip_hosts: bool = typer.Option(
            False, "--skip-hosts", help="Do not contact the inventory's hosts (WinRM, TLS)."
        ),
        skip_slack: bool = typer.Option(False, "--skip-slack", help="Do not call Slack."),
    ) -> None:
        """Test what breaks a deployment: config, database and migrations, WinRM
        credentials, TLS and one WinRM log-on per host, the Slack token and channel
        membership, schedules. Exit 1 when any item fails."""
        from bot.cli.doctor import doctor_lines

        state = state_of(ctx)
        settings = state.require_config("doctor")
        with state.err.status("asking the store, the hosts and Slack …"):
            lines = doctor_lines(
                settings, datetime.now(UTC), hosts=not skip_hosts, slack=not skip_slack
            )
        ok = all(line.ok for line in lines)
        if as_json:
            print_json({"ok": ok, "items": [line.to_json() for line in lines]})
        else:
            table = Table(title="wsusbot doctor")
            table.add_column("", no_wrap=True)
            table.add_column("item", no_wrap=True)
            table.add_column("detail", overflow="fold")
            for line in lines:
                status = Text("OK", style="green") if line.ok else Text("FAIL", style="bold red")
                table.add_row(status, Text(line.item), Text(line.detail))
            state.out.print(table)
        if not ok:
            raise typer.Exit(1)


def _channel_of(state: CliState, digest_id: str) -> str:
    for digest in state.settings.digests:
        if digest.id == digest_id:
            return digest.channel
    return "?"
