"""The check registry: every catalogue check, keyed by id, and the loop that runs them.

``default_registry()`` lists the check modules explicitly; importing this module runs
nothing and registers nothing by side effect.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from checks.client import agent_version as client_agent_version
from checks.client import au_enabled as client_au_enabled
from checks.client import au_state as client_au_state
from checks.client import detection_stalled as client_detection_stalled
from checks.client import legacy_sus_server as client_legacy_sus_server
from checks.client import policy_use_wuserver as client_policy_use_wuserver
from checks.client import policy_wuserver as client_policy_wuserver
from checks.client import proxy as client_proxy
from checks.client import scan_source as client_scan_source
from checks.client import selfupdate_reachable as client_selfupdate_reachable
from checks.client import services as client_services
from checks.client import update_log_errors as client_update_log_errors
from checks.errors import UsageError, WsusbotError
from checks.facts import HostFacts, role_of
from checks.model import Check, CheckContext, Finding, Role, Status
from checks.server import anonymous_auth as server_anonymous_auth
from checks.server import clientwebservice_http as server_clientwebservice_http
from checks.server import iis_log_errors as server_iis_log_errors
from checks.server import port80_site as server_port80_site
from checks.server import selfupdate_http as server_selfupdate_http
from checks.server import selfupdate_vdir as server_selfupdate_vdir
from checks.server import services as server_services
from checks.server import sharepoint_conflict as server_sharepoint_conflict
from checks.server import stale_clients as server_stale_clients
from checks.server import wsus_binding as server_wsus_binding
from checks.server import wsuspool as server_wsuspool

#: a check of either role; the registry pairs each with facts of its own role
AnyCheck = Check[Any]


class DuplicateCheckError(WsusbotError):
    """Two checks were registered under the same id."""


class Registry:
    """Checks keyed by id, in registration order (the order reports list them)."""

    def __init__(self, checks: Iterable[AnyCheck] = ()) -> None:
        self._checks: dict[str, AnyCheck] = {}
        for check in checks:
            self.add(check)

    def add(self, check: AnyCheck) -> None:
        if check.id in self._checks:
            raise DuplicateCheckError(f"check id {check.id!r} is registered twice")
        self._checks[check.id] = check

    def get(self, check_id: str) -> AnyCheck:
        try:
            return self._checks[check_id]
        except KeyError:
            close = difflib.get_close_matches(check_id, list(self._checks), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"unknown check {check_id[:80]!r}{hint}") from None

    def all(self) -> tuple[AnyCheck, ...]:
        return tuple(self._checks.values())

    def ids(self) -> tuple[str, ...]:
        return tuple(self._checks)

    def for_role(self, role: Role) -> tuple[AnyCheck, ...]:
        return tuple(check for check in self._checks.values() if check.meta.role == role)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def __len__(self) -> int:
        return len(self._checks)


def default_registry() -> Registry:
    """Every check of docs/catalogue.md, servers first, in catalogue order."""
    return Registry(
        (
            server_port80_site.CHECK,
            server_selfupdate_vdir.CHECK,
            server_selfupdate_http.CHECK,
            server_clientwebservice_http.CHECK,
            server_wsus_binding.CHECK,
            server_anonymous_auth.CHECK,
            server_sharepoint_conflict.CHECK,
            server_iis_log_errors.CHECK,
            server_services.CHECK,
            server_wsuspool.CHECK,
            server_stale_clients.CHECK,
            client_agent_version.CHECK,
            client_policy_wuserver.CHECK,
            client_policy_use_wuserver.CHECK,
            client_scan_source.CHECK,
            client_legacy_sus_server.CHECK,
            client_au_enabled.CHECK,
            client_services.CHECK,
            client_selfupdate_reachable.CHECK,
            client_au_state.CHECK,
            client_detection_stalled.CHECK,
            client_update_log_errors.CHECK,
            client_proxy.CHECK,
        )
    )


def evaluate_all(registry: Registry, facts: HostFacts, ctx: CheckContext) -> list[Finding]:
    """Run every check of the facts' role. A check that raises yields an ``unknown``
    finding naming the error type, so one broken check never hides the others."""
    findings = []
    for check in registry.for_role(role_of(facts)):
        try:
            finding = check.evaluate(facts, ctx)
        except WsusbotError as exc:
            # our own errors carry messages written to be shown (no secrets, bounded)
            finding = _crashed(check, type(exc).__name__, str(exc)[:300])
        except Exception as exc:
            finding = _crashed(check, type(exc).__name__, None)
        findings.append(finding)
    return findings


def _crashed(check: AnyCheck, error_type: str, message: str | None) -> Finding:
    evidence = [f"{check.id} raised {error_type}" + (f": {message}" if message else "")]
    return Finding(
        check.id,
        Status.UNKNOWN,
        f"The check failed internally ({error_type}); its result is unknown.",
        tuple(evidence),
        next_step="Report this to the wsusbot maintainers with the host's facts document.",
    )
