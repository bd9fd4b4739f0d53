"""Live ``check`` and ``history``: through the runner, with progress on stderr, into the
store and the audit trail (as the CLI user, or ``--as``)."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterable

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bot.cli.state import CliState, print_json
from bot.observability.logs import run_scope
from bot.render.terminal import print_report, print_summary, status_text
from bot.services import Services
from bot.store.audit import AuditAction, AuditRecord
from checks.report import Report
from handlers.runner import CheckOutcome, Runner
from handlers.target import HostTarget


def _targets(services: Services, host: str | None, group: str | None) -> list[HostTarget]:
    inventory = services.inventory
    if host is not None:
        return [inventory.resolve(host)]
    if group is not None:
        return inventory.group(group)
    targets = inventory.all()
    if not targets:
        from checks.errors import ConfigError

        raise ConfigError("the inventory is empty: add [[servers]] / [[clients]] to the config")
    return targets


def run_live(state: CliState, *, host: str | None, group: str | None, as_json: bool) -> int:
    user = state.identity
    services = Services.open(state.require_config("check HOST"))
    try:
        targets = _targets(services, host, group)
        # a missing user name or password is the configuration's fault: one line, exit 2,
        # before any host is contacted
        services.require_credentials(targets)
        outcomes = asyncio.run(
            _run(services, state, targets, user, single=host is not None, quiet=as_json)
        )
        for outcome in outcomes:
            _audit(services, outcome, user)
    finally:
        services.close()
    reports = [o.report for o in outcomes]
    if host is not None:
        report = reports[0]
        if as_json:
            print_json(report.to_json())
        else:
            print_report(state.out, report)
        return report.exit_code
    if as_json:
        print_json_list(r.to_json() for r in reports)
    else:
        print_summary(state.out, reports)
    # a fleet run: 3 when any host could not be read, else 1 when any check failed
    if any(r.unreachable_reason for r in reports):
        return 3
    return max((r.exit_code for r in reports), default=0)


def _audit(services: Services, outcome: CheckOutcome, user: str) -> None:
    """The same audit line a Slack check writes, with the CLI identity."""
    report = outcome.report
    services.audit.write(
        AuditRecord(
            time=services.clock(),
            user=user,
            action=AuditAction.CHECK,
            host=report.host.lower(),
            outcome=report.verdict.value,
            detail=report.unreachable_reason or f"run {outcome.run_id} (cli)",
        )
    )


async def _one(runner: Runner, target: HostTarget, user: str) -> CheckOutcome:
    # each check run gets its own correlation id in the log lines it causes
    with run_scope():
        return await runner.check(target, user)


def print_json_list(items: Iterable[object]) -> None:
    """What ``print_json(list(items))`` prints, written one item at a time: a 5,000-host
    run never holds every report's JSON (dicts and text) at once."""
    first = True
    for item in items:
        text = json.dumps(item, indent=2, ensure_ascii=False)
        typer.echo(("[\n" if first else ",\n") + textwrap.indent(text, "  "), nl=False)
        first = False
    typer.echo("[]" if first else "\n]")


async def _run(
    services: Services,
    state: CliState,
    targets: list[HostTarget],
    user: str,
    *,
    single: bool,
    quiet: bool,
) -> list[CheckOutcome]:
    console = state.err if not quiet else None
    async with services.runner() as runner:
        if single:
            target = targets[0]
            if console is not None and console.is_terminal:
                with console.status(f"checking {target.name} …", spinner="dots"):
                    return [await _one(runner, target, user)]
            return [await _one(runner, target, user)]
        progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            disable=console is None,
            transient=False,
        )
        with progress:
            task = progress.add_task("checking hosts", total=len(targets))

            def done(outcome: CheckOutcome) -> None:
                progress.advance(task)
                if console is not None:
                    progress.console.print(
                        f"  {outcome.report.host}: ", status_text(outcome.report.verdict)
                    )

            # the runner bounds the concurrency ([runner] concurrency) and shares each
            # server's HTTP view over the round; facts are dropped once recorded
            return await runner.check_many(
                targets, user, on_done=done, keep_facts=False, each_in=run_scope
            )


def show_history(state: CliState, host: str, *, limit: int, as_json: bool) -> None:
    from rich.table import Table

    services = Services.open(state.require_config("history"))
    try:
        # not in the inventory (nor matching a pattern): say so, exit 2, as `check` does
        name = services.inventory.resolve(host).name
        runs = services.runs.history(name, limit)
    finally:
        services.close()
    if as_json:
        print_json(
            [
                {
                    "id": r.id,
                    "host": r.host,
                    "role": r.role,
                    "verdict": r.verdict,
                    "started_at": r.started_at.isoformat(),
                    "finished_at": r.finished_at.isoformat(),
                    "requested_by": r.requested_by,
                    "unreachable_reason": r.unreachable_reason,
                    "report": r.report,
                }
                for r in runs
            ]
        )
        return
    if not runs:
        state.out.print(f"no check runs recorded for {name}")
        return
    table = Table(title=f"history of {name}")
    for column in ("run", "finished (UTC)", "verdict", "failing / reason", "by"):
        table.add_column(column)
    from checks.model import Status

    for run in runs:
        report = Report.from_json(run.report)
        failing = run.unreachable_reason or report.problem_line or "—"
        table.add_row(
            str(run.id),
            run.finished_at.strftime("%Y-%m-%d %H:%M:%S"),
            status_text(Status(run.verdict)),
            failing,
            run.requested_by,
        )
    state.out.print(table)
