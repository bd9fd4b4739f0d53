"""``wsusbot check`` (offline on a facts file, or live through the runner) and ``history``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.cli.state import CliState, print_json, state_of
from checks.errors import FactsError, UsageError

if TYPE_CHECKING:
    # the facts models, the registry and the renderer are imported by the command that
    # uses them, so that ``--help`` and the other commands do not pay for them
    from checks.facts import HostFacts


def parse_time(text: str, option: str) -> datetime:
    """An ISO-8601 option value as an aware time (UTC when no zone is given)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {text[:40]!r} is not ISO-8601 (e.g. 2026-11-25T08:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_of(facts: HostFacts, now: datetime | None) -> datetime:
    """The time a facts document is judged at: ``--now`` when given, else the document's
    own ``collected_at`` (a saved document is read as it was when collected, not days
    later, when every "days since" check would have drifted), else the present."""
    if now is not None:
        return now
    if facts.collected_at:
        try:
            return parse_time(facts.collected_at, "collected_at")
        except UsageError:
            raise FactsError(
                f"collected_at {facts.collected_at[:40]!r} is not an ISO-8601 time; give "
                "--now to evaluate the document anyway"
            ) from None
    return datetime.now(UTC)


def read_facts_file(path: Path) -> HostFacts:
    """Read at most the documented limit (an endless stream such as /dev/zero is refused
    once past it, not read until memory runs out)."""
    from bot.bounded import read_at_most
    from checks.facts import MAX_DOCUMENT_BYTES, read_host_facts

    try:
        raw = read_at_most(path, MAX_DOCUMENT_BYTES)
    except OSError as exc:
        raise FactsError(f"cannot read facts file {path}: {exc.strerror}") from exc
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise FactsError(
            f"{path}: more than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB; a facts document "
            "is never that large (is this the right file?)"
        )
    try:
        return read_host_facts(raw)
    except FactsError as exc:
        raise FactsError(f"{path}: {exc}") from exc


def _offline(
    state: CliState,
    host: str,
    facts_path: Path,
    previous_path: Path | None,
    now: datetime | None,
    expected_wsus_url: str | None,
    as_json: bool,
) -> int:
    from bot.inventory import validate_host_argument
    from bot.render.terminal import print_report
    from checks.evaluation import evaluate_facts
    from checks.model import CheckContext, Thresholds
    from checks.registry import default_registry

    validate_host_argument(host)
    facts = read_facts_file(facts_path)
    previous = read_facts_file(previous_path) if previous_path else None
    if previous is not None and type(previous) is not type(facts):
        raise UsageError("--previous must be facts of the same role as --facts")
    thresholds = None
    if expected_wsus_url is None and (state.config_path is not None):
        settings = state.settings
        thresholds = settings.thresholds.to_thresholds()
        try:
            from bot.inventory import Inventory

            expected_wsus_url = Inventory(settings).resolve(host).wsus_url
        except UsageError:
            expected_wsus_url = None
    ctx = CheckContext(
        now=as_of(facts, now),
        expected_wsus_url=expected_wsus_url,
        previous=previous,
        thresholds=thresholds or Thresholds(),
    )
    report = evaluate_facts(default_registry(), host, facts, ctx)
    if as_json:
        print_json(report.to_json())
    else:
        print_report(state.out, report)
    return report.exit_code


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(
        ctx: typer.Context,
        host: str | None = typer.Argument(None, help="Host name from the inventory."),
        facts: Path | None = typer.Option(
            None, "--facts", help="Evaluate this facts document offline ('-' = stdin)."
        ),
        previous: Path | None = typer.Option(
            None, "--previous", help="Facts of the same host from an earlier check."
        ),
        now: str | None = typer.Option(
            None,
            "--now",
            help="Evaluate as of this ISO-8601 time (default: live checks the present, "
            "--facts the document's collected_at).",
        ),
        expected_wsus_url: str | None = typer.Option(
            None, "--expected-wsus-url", help="The WSUS URL this client should use."
        ),
        all_hosts: bool = typer.Option(False, "--all", help="Check every inventory host."),
        group: str | None = typer.Option(None, "--group", help="Check one inventory group."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> int:
        """Check a host: live over WinRM/HTTP, or offline from a facts file (--facts)."""
        state = state_of(ctx)
        moment = parse_time(now, "--now") if now is not None else None
        if facts is not None:
            if host is None:
                raise UsageError("give the host name the facts belong to: check HOST --facts F")
            code = _offline(state, host, facts, previous, moment, expected_wsus_url, as_json)
            raise typer.Exit(code)
        if previous is not None:
            raise UsageError("--previous goes with --facts; live checks use the stored history")
        if now is not None:
            raise UsageError("--now goes with --facts; a live check reads the host as it is now")
        from bot.cli.live import run_live

        chosen = sum(1 for flag in (host is not None, all_hosts, group is not None) if flag)
        if chosen != 1:
            raise UsageError("give exactly one of: HOST, --all, --group NAME")
        raise typer.Exit(run_live(state, host=host, group=group, as_json=as_json))

    @app.command("history")
    def history(
        ctx: typer.Context,
        host: str = typer.Argument(..., help="Host name."),
        limit: int = typer.Option(20, "--limit", min=1, max=1000),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Past check runs of a host, newest first."""
        from bot.cli.live import show_history

        show_history(state_of(ctx), host, limit=limit, as_json=as_json)
