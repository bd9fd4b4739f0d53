"""Facts in, report out: run every applicable check of a registry on one host's facts."""

from __future__ import annotations

from datetime import datetime

from checks.facts import HostFacts, role_of
from checks.model import CheckContext, Finding, Role, Status
from checks.registry import Registry, evaluate_all
from checks.report import Report


def evaluate_facts(
    registry: Registry,
    host: str,
    facts: HostFacts,
    ctx: CheckContext,
    *,
    started_at: datetime | None = None,
) -> Report:
    role = role_of(facts)
    findings = tuple(evaluate_all(registry, facts, ctx))
    return Report(
        host=host,
        role=role,
        findings=findings,
        started_at=started_at or ctx.now,
        finished_at=ctx.now,
        seeds=_seeds(registry, role),
    )


def unreachable_report(
    registry: Registry,
    host: str,
    role: Role | None,
    reason: str,
    message: str,
    *,
    started_at: datetime,
    finished_at: datetime,
) -> Report:
    """Every check of the role is ``unknown``, with the collection failure as the reason."""
    roles: tuple[Role, ...] = (role,) if role else ("server", "client")
    findings = tuple(
        Finding(
            check=check.id,
            status=Status.UNKNOWN,
            summary=f"host could not be read ({reason})",
            evidence=(message,),
            next_step=_NEXT_STEP.get(reason, "See the evidence, then re-run the check."),
        )
        for r in roles
        for check in registry.for_role(r)
    )
    seeds: dict[str, tuple[str, ...]] = {}
    for r in roles:
        seeds.update(_seeds(registry, r))
    return Report(
        host=host,
        role=role,
        findings=findings,
        started_at=started_at,
        finished_at=finished_at,
        unreachable_reason=reason,
        seeds=seeds,
    )


def _seeds(registry: Registry, role: Role) -> dict[str, tuple[str, ...]]:
    return {check.id: check.meta.seed for check in registry.for_role(role)}


_NEXT_STEP = {
    "unreachable": "Check that the host is up, that WinRM listens (winrm quickconfig; "
    "port 5985/5986) and that no firewall blocks the bot.",
    "auth_failed": "Check the WinRM account's user name and password (or certificate) and "
    "that it is in the host's local Administrators / Remote Management Users group.",
    "tls": "Check the host's WinRM HTTPS certificate against the configured CA bundle.",
    "timeout": "The host did not answer within the deadline: check its load and WinRM "
    "service, or raise runner.host_deadline_s.",
    "remote_error": "The probe failed on the host: see the evidence for the PowerShell error.",
    "bad_output": "The host answered with something that is not the probe's JSON: see the "
    "evidence; a profile script or a broken PowerShell may be writing to stdout.",
}
