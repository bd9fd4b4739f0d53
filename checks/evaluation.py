"""Facts in, report out: run every applicable check of a registry on one host's facts."""

from __future__ import annotations

from datetime import datetime

from checks.errors import next_step_for
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
            next_step=next_step_for(reason),
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
