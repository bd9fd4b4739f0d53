"""server.services: WsusService and W3SVC run, the WsusPool application pool is started."""

from __future__ import annotations

from checks._support import missing, probe_errors, sentence
from checks.facts import ServerFacts, ServiceState
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="server.services",
    role="server",
    title="WSUS and IIS services are running",
    severity=Severity.CRITICAL,
    seed=(),
    reads=("services.WsusService", "services.W3SVC", "iis.app_pools[]"),
    remediation=(
        "Start the World Wide Web Publishing Service (W3SVC) and the WSUS Service "
        "(WsusService), set them to Automatic if they are disabled, and start the WsusPool "
        "application pool in IIS Manager. If WsusPool keeps stopping, raise its private "
        "memory limit."
    ),
    fix="server.start_services",
    description="Checks that WsusService and W3SVC are running and WsusPool is started.",
)

_BUILD = FindingBuilder(META)


def _service_problem(name: str, service: ServiceState) -> str | None:
    if (service.start_mode or "").lower() == "disabled":
        return f"{name} is disabled"
    if (service.state or "").lower() != "running":
        return f"{name} is {(service.state or '').lower()}"
    return None


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    if facts.services is None:
        return missing(_BUILD, "services", facts.errors, "services")
    evidence: list[str] = []
    problems: list[str] = []
    unknown: list[str] = []
    for name, service in (
        ("WsusService", facts.services.WsusService),
        ("W3SVC", facts.services.W3SVC),
    ):
        if service is None or service.state is None:
            evidence.append(f"{name}: state unknown")
            unknown.append(name)
            continue
        evidence.append(f"{name}: {service.state} (start mode {service.start_mode or 'unknown'})")
        problem = _service_problem(name, service)
        if problem:
            problems.append(problem)
    pools = facts.iis.app_pools if facts.iis else None
    pool = next(
        (p for p in pools or () if (p.name or "").lower() == "wsuspool"),
        None,
    )
    if pools is None:
        evidence.append("application pools: not reported")
        unknown.append("iis.app_pools")
    elif pool is None:
        evidence.append("application pools: " + (", ".join(str(p.name) for p in pools) or "none"))
        problems.append("the WsusPool application pool does not exist")
    else:
        evidence.append(f"WsusPool: {pool.state or 'state unknown'}")
        if pool.state is None:
            unknown.append("WsusPool")
        elif pool.state.lower() != "started":
            problems.append(f"WsusPool is {pool.state.lower()}")
    if problems:
        no_pool = problems == ["the WsusPool application pool does not exist"]
        return _BUILD.fail(
            sentence(problems),
            evidence,
            next_step=(
                "WsusPool is created by WSUS setup: repair or reinstall WSUS (WSUS 2.0 on "
                "IIS 6 runs in another pool; then this finding can be ignored)."
                if no_pool
                else None
            ),
            fix=False if no_pool else None,
        )
    if unknown:
        evidence += probe_errors(facts.errors, "services", "iis")
        return _BUILD.unknown("Could not read the state of " + ", ".join(unknown) + ".", evidence)
    return _BUILD.passed("WsusService and W3SVC are running; WsusPool is started.", evidence)


CHECK = Check(META, evaluate)
