"""Run a fix probe on a host: one WinRM command, never retried (it may have changed the
host), its before/after state parsed from the probe's JSON."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from checks.errors import BadOutputError, CollectionError, FixError, ProbeFailedError
from checks.fixes import FixMeta
from handlers.collector import PasswordSource, decode_probe_output
from handlers.probes import compose
from handlers.target import HostTarget
from handlers.winrm import WinrmClient


@dataclass(frozen=True, slots=True)
class FixResult:
    fix: str
    changed: bool
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    log: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "fix": self.fix,
            "changed": self.changed,
            "before": self.before,
            "after": self.after,
            "log": list(self.log),
        }


def fix_params(fix: FixMeta, target: HostTarget) -> dict[str, Any]:
    """The fix's declared parameters, filled from the inventory (``FixMeta``)."""
    params: dict[str, Any] = {}
    for name, attribute in fix.params_from_inventory:
        value = getattr(target, attribute, None)
        if not value:
            raise FixError(
                f"{fix.id} needs the inventory's {attribute} for {target.name}, and it has "
                "none (is the client assigned to a WSUS server?)"
            )
        params[name] = value
    return params


def parse_fix_result(host: str, fix: FixMeta, data: Any) -> FixResult:
    if not isinstance(data, dict):
        raise BadOutputError(f"{host}: the fix probe's output is not a JSON object", host=host)
    if data.get("fix") not in (fix.id, None):
        raise BadOutputError(
            f"{host}: the fix probe reported fix {str(data.get('fix'))[:60]!r}, not {fix.id!r}",
            host=host,
        )
    before, after = data.get("before"), data.get("after")
    log = data.get("log") or []
    return FixResult(
        fix=fix.id,
        changed=bool(data.get("changed")),
        before=before if isinstance(before, dict) else {},
        after=after if isinstance(after, dict) else {},
        log=tuple(str(line)[:500] for line in log[:100]) if isinstance(log, list) else (),
    )


def runnable_probe(fix: FixMeta, target: HostTarget) -> str:
    """The fix's probe, or FixError when the bot must not run it on ``target`` (a manual
    fix, or one for the other role); wherever it would run, here or on a site worker."""
    if not fix.executable or fix.probe is None:
        raise FixError(f"{fix.id} is a manual fix: the bot never runs it")
    if target.role is not None and target.role != fix.role:
        raise FixError(f"{fix.id} is a {fix.role} fix; {target.name} is a {target.role}")
    return fix.probe


class FixRunner:
    def __init__(
        self, winrm: WinrmClient, passwords: PasswordSource, executor: Executor | None = None
    ) -> None:
        self._winrm = winrm
        self._passwords = passwords
        self._executor = executor

    async def run(self, target: HostTarget, fix: FixMeta, deadline: float) -> FixResult:
        probe = runnable_probe(fix, target)
        script = compose.render(probe, fix_params(fix, target))
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            self._executor,
            functools.partial(
                self._winrm.run,
                target,
                self._passwords(target),
                script,
                deadline=deadline,
                retry_connect=False,
            ),
        )
        try:
            return parse_fix_result(target.name, fix, decode_probe_output(target.name, result))
        except CollectionError as exc:
            # the probe ran; only a non-zero exit is the host's own word that it failed
            if not isinstance(exc, ProbeFailedError):
                exc.delivered = True
            raise
