"""server.wsuspool: the WsusPool application pool is not set to recycle at a low private
memory limit (ext., beyond the seed).

Why: the WSUS web services run in WsusPool; when its worker process reaches the pool's
private memory limit IIS recycles it, and while it is down (or stopped after repeated
failures) the WSUS web services answer HTTP 503. The limit WSUS setup leaves on current
servers is 1,843,200 KB (third-party: https://sccm2012.wordpress.com/tag/sup/, citing the
Microsoft support tip "ConfigMgr 2012 Support Tip: WSUS sync fails with HTTP 503 errors",
https://blogs.technet.microsoft.com/configurationmgr/2015/03/23/configmgr-2012-support-tip-wsus-sync-fails-with-http-503-errors/
(not retrieved)); Microsoft's Configuration Manager planning guide says "Increase the WsusPool
Private Memory limit x4 times, or set to 0 (unlimited)" (quoted in
https://github.com/MicrosoftDocs/SCCMdocs/issues/519, page
https://docs.microsoft.com/en-us/sccm/sum/plan-design/plan-for-software-updates#capacity-planning-recommendations-for-software-updates).
IIS: ``recycling/periodicRestart/@privateMemory`` is in KB, 0 disables it (MicrosoftDocs/iis-docs
iis/configuration/system.applicationHost/applicationPools/add/recycling/periodicRestart/index.md);
``queueLength`` defaults to 1000 and a full queue is answered 503
(.../applicationPools/add/index.md).

Verdict: fail at or below 1,843,200 KB (not 0); warn below 4x that (7,372,800 KB); pass at 0
or above. The pool's *state* is server.services' finding (one owner); it is shown here only
as evidence. IIS 6 (WSUS 2.0/3.0 on Windows Server 2003) is skipped: the probe reads these
settings through IIS 7+ configuration only.
"""

from __future__ import annotations

from checks._support import missing
from checks.facts import AppPool, ServerFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.versions import VersionError, parse_version

#: the private memory limit WSUS setup sets on WsusPool (KB; third-party, see above)
DEFAULT_PRIVATE_MEMORY_KB = 1_843_200
#: Microsoft: "x4 times, or set to 0 (unlimited)"
RECOMMENDED_PRIVATE_MEMORY_KB = 4 * DEFAULT_PRIVATE_MEMORY_KB
#: the queue length the fix sets (third-party recommendation, e.g. the cmhealth module's
#: Test-WsusIisAppPoolSettings default; IIS's own default is 1000)
RECOMMENDED_QUEUE_LENGTH = 2000

META = CheckMeta(
    id="server.wsuspool",
    role="server",
    title="WsusPool does not recycle at a low private memory limit",
    severity=Severity.HIGH,
    seed=(),
    reads=("iis.app_pools[].private_memory_kb", "iis.app_pools[].queue_length", "iis.version"),
    remediation=(
        "In IIS Manager > Application Pools > WsusPool > Advanced Settings, set Recycling > "
        "Private Memory Limit (KB) to 0 (no limit) or at least four times the default "
        f"({RECOMMENDED_PRIVATE_MEMORY_KB:,} KB), raise Queue Length to "
        f"{RECOMMENDED_QUEUE_LENGTH}, then recycle the pool."
    ),
    fix="server.raise_wsuspool_memory",
    description="Checks WsusPool's private memory recycling limit: at the WSUS default it "
    "recycles under client scan load and the WSUS web services answer 503.",
)

_BUILD = FindingBuilder(META)


def _kb(value: int) -> str:
    return f"{value:,} KB"


def _pool(pools: list[AppPool]) -> AppPool | None:
    return next((p for p in pools if (p.name or "").lower() == "wsuspool"), None)


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    if facts.wsus is not None and facts.wsus.installed is False:
        return _BUILD.skip("WSUS is not installed on this server.")
    iis = facts.iis
    if iis is None or iis.app_pools is None:
        return missing(_BUILD, "iis.app_pools", facts.errors, "iis")
    try:
        major = parse_version(iis.version)[0] if iis.version else None
    except VersionError:
        major = None
    if major is not None and major < 7:
        return _BUILD.skip(
            f"IIS {iis.version}: the application pool's memory limits are not read on IIS 6."
        )
    pool = _pool(iis.app_pools)
    if pool is None:
        return _BUILD.skip("There is no WsusPool application pool (see server.services).")
    limit = pool.private_memory_kb
    evidence = [
        f"WsusPool state: {pool.state or 'unknown'} (judged by server.services)",
        "private memory limit: " + ("not reported" if limit is None else _kb(limit)),
        "queue length: "
        + ("not reported" if pool.queue_length is None else f"{pool.queue_length}"),
    ]
    if limit is None:
        return missing(_BUILD, "iis.app_pools[WsusPool].private_memory_kb", facts.errors, "iis")
    if limit == 0:
        return _BUILD.passed("WsusPool has no private memory limit.", evidence)
    if limit <= DEFAULT_PRIVATE_MEMORY_KB:
        return _BUILD.fail(
            f"WsusPool recycles at {_kb(limit)} of private memory (the WSUS default is "
            f"{_kb(DEFAULT_PRIVATE_MEMORY_KB)}): under client scan load IIS recycles it and "
            "ClientWebService answers 503.",
            evidence,
        )
    if limit < RECOMMENDED_PRIVATE_MEMORY_KB:
        return _BUILD.warn(
            f"WsusPool's private memory limit {_kb(limit)} is below the recommended "
            f"{_kb(RECOMMENDED_PRIVATE_MEMORY_KB)} (four times the default) or 0.",
            evidence,
        )
    return _BUILD.passed(f"WsusPool's private memory limit is {_kb(limit)}.", evidence)


CHECK = Check(META, evaluate)
